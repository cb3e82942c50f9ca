// @vercel/cosmosdb-server over TLS on loopback, with keep-alive and a change feed that
// honours its continuation, as the real service's does.
//
// Usage: node tests/cosmos_emulator.js <port> <host>
//
// The emulator's own change feed (a ReadFeed of the documents with the `A-IM:
// Incremental feed` header) answers every read that carries a continuation with 304
// Not Modified, whatever was written since, so a change-feed processor never sees
// anything after its first page. This launcher replaces exactly that: every write gets
// a logical sequence number (`_lsn`, as real items carry), the feed's ETag is the last
// `_lsn` it delivered, and a read with `If-None-Match: "<lsn>"` returns the documents
// written after it, oldest first, or 304 when there are none. Everything else is the
// emulator, unchanged.
"use strict";
const path = require("path");
const lib = path.join(__dirname, "..", "node_modules", "@vercel", "cosmosdb-server", "lib");
const Items = require(path.join(lib, "account", "items")).default;
const readDocuments = require(path.join(lib, "handler", "read-documents"));

let lastLsn = 0;
const set = Items.prototype._set;
Items.prototype._set = function stampLsn(data) {
  lastLsn += 1;
  return set.call(this, { ...data, _lsn: lastLsn });
};

const readFeed = readDocuments.default;
readDocuments.default = async (account, req, res, params) => {
  if (!req.headers["a-im"]) {
    return readFeed(account, req, res, params);
  }
  // Answered here: the emulator's own post-processing of A-IM reads must not run.
  delete req.headers["a-im"];
  const collection = account.database(params.dbId).collection(params.collId);
  if (!collection.read()) {
    res.statusCode = 404;
    return { code: "NotFound", message: "no such container" };
  }
  const match = (req.headers["if-none-match"] || "").replace(/"/g, "");
  const since = match === "*" ? lastLsn : Number(match || 0);
  const asked = Number(req.headers["x-ms-max-item-count"] || 100);
  const limit = asked > 0 ? asked : Infinity;
  const items = collection.documents;
  const changed = [...items._data.values()]
    .map(item => item.read())
    .filter(doc => doc._lsn > since)
    .sort((a, b) => a._lsn - b._lsn)
    .slice(0, limit);
  const etag = changed.length ? changed[changed.length - 1]._lsn : since;
  res.setHeader("etag", `"${etag}"`);
  if (!changed.length) {
    res.statusCode = 304;
    return {};
  }
  res.setHeader("x-ms-item-count", String(changed.length));
  return { Documents: changed, _count: changed.length };
};

const { createHttpsServer } = require(lib);
const [port, host] = process.argv.slice(2);
const server = createHttpsServer({ keepAlive: true }).listen(Number(port), host, () => {
  console.log(`Ready to accept HTTPS connections at ${host}:${port}`);
});
