"""Image providers: one module per provider's wire format, each an `ImageProvider`."""
