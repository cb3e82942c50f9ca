"""Personal text (prompts, erasure reasons) is sealed with its subject's key before it
enters an event.

AES-256-GCM with a fresh 96-bit nonce per text; the subject id is bound as associated
data so a ciphertext cannot be replayed under another subject. Destroying the key
(erasure) leaves the ciphertext, and so the hash chain, intact but unreadable.
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from domain.generation import SealedText
from services.ports import SubjectKeyRing

ERASED = "[erased]"


def seal_text(keys: SubjectKeyRing, subject_id: str, text: str) -> SealedText:
    return _seal(keys.key_for(subject_id), subject_id, text)


def seal_for_erasure(keys: SubjectKeyRing, subject_id: str, text: str) -> SealedText:
    """`text` sealed under the subject's key, for an erasure that destroys it next.

    With no key left to destroy (a repeat, or the retry of an erasure that crashed after
    destroying it), under a key made for this and never kept: either way nobody can open
    it, and no key is minted that the erasure would then have to account for.
    """
    key = keys.existing_key(subject_id) or AESGCM.generate_key(bit_length=256)
    return _seal(key, subject_id, text)


def _seal(key: bytes, subject_id: str, text: str) -> SealedText:
    nonce = os.urandom(12)
    ciphertext = AESGCM(key).encrypt(nonce, text.encode("utf-8"), subject_id.encode("utf-8"))
    return SealedText(
        subject_id=subject_id,
        nonce=base64.b64encode(nonce).decode("ascii"),
        ciphertext=base64.b64encode(ciphertext).decode("ascii"),
    )


def open_text(keys: SubjectKeyRing, sealed: SealedText) -> str | None:
    """The plaintext, or None when the subject has been erased."""
    key = keys.existing_key(sealed.subject_id)
    if key is None:
        return None
    try:
        plaintext = AESGCM(key).decrypt(
            base64.b64decode(sealed.nonce),
            base64.b64decode(sealed.ciphertext),
            sealed.subject_id.encode("utf-8"),
        )
    except InvalidTag as error:
        raise ValueError(f"sealed text for {sealed.subject_id} does not authenticate") from error
    return plaintext.decode("utf-8")
