"""Personal text (prompts) is sealed with its subject's key before it enters an event.

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
    nonce = os.urandom(12)
    ciphertext = AESGCM(keys.key_for(subject_id)).encrypt(
        nonce, text.encode("utf-8"), subject_id.encode("utf-8")
    )
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
