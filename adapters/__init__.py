"""One module per port and technology."""
