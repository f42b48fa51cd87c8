"""Reporter identity at rest: AES-GCM with rotating keys, HMAC for matching.

Each ciphertext is ``key_id (1 byte length + ascii) || nonce (12) || ciphertext+tag``, so old
rows stay readable after rotation while new writes use the newest key. The associated data
binds a value to its field name, so an e-mail ciphertext cannot be replayed as a NIK.
Matching hashes use a separate HMAC key over a normalised value.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from dataclasses import field as dc_field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from aggregator.errors import ConfigError
from schemas.config import CryptoConfig

# Demo mode only: a fixed, public key so the demo runs without setup. Never for real data.
DEMO_KEY = base64.urlsafe_b64encode(b"satukanal-demo-key-not-secret!!!").decode()
DEMO_HMAC = base64.urlsafe_b64encode(b"satukanal-demo-hmac-not-secret!!").decode()

HOW_TO = (
    "Generate the key files with `satukanal keys generate --dir /etc/satukanal/keys` and name "
    "them in the configuration: crypto.hmac_key_file, and [[crypto.keys]] with id and "
    "secret_file."
)


def generate_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def _decode_key(value: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(value.encode() + b"=" * (-len(value) % 4))
    except (ValueError, TypeError) as exc:
        raise ConfigError(
            f"this is not a key made by `satukanal keys generate` (not url-safe base64). {HOW_TO}"
        ) from exc
    if len(raw) != 32:
        raise ConfigError(
            f"this key is {len(raw)} bytes long, a key must be 32 bytes; make one with "
            f"`satukanal keys generate`. {HOW_TO}"
        )
    return raw


def config_problems(cfg: CryptoConfig) -> list[tuple[str, str]]:
    """Everything wrong with the configured keys at once: ``(key, problem)`` pairs."""
    if not cfg.keys and cfg.hmac_key is None:
        return [
            (
                "crypto",
                "no encryption keys are configured, so reporters' names, phones, e-mails and NIKs "
                f"cannot be stored safely. {HOW_TO}",
            )
        ]
    problems: list[tuple[str, str]] = []
    if not cfg.keys:
        problems.append(
            (
                "crypto.keys",
                "no [[crypto.keys]] entry: there is no key to encrypt reporters' identities with "
                f"(the HMAC key alone only matches them). {HOW_TO}",
            )
        )
    if cfg.hmac_key is None:
        problems.append(
            (
                "crypto.hmac_key_file",
                "the HMAC key is missing (crypto.hmac_key_file): it is needed to recognise the "
                f"same reporter again without decrypting. {HOW_TO}",
            )
        )
    seen: set[str] = set()
    for i, k in enumerate(cfg.keys):
        if k.id in seen:
            problems.append((f"crypto.keys[{i}].id", f"the key id {k.id!r} is used twice"))
        seen.add(k.id)
        try:
            _decode_key(k.secret.get_secret_value())
        except ConfigError as exc:
            problems.append((f"crypto.keys[{i}].secret", str(exc)))
    if cfg.hmac_key is not None:
        try:
            _decode_key(cfg.hmac_key.get_secret_value())
        except ConfigError as exc:
            problems.append(("crypto.hmac_key", str(exc)))
    return problems


@dataclass(frozen=True)
class Crypto:
    keys: dict[str, bytes]
    current_id: str
    hmac_key: bytes
    # One cipher object per key: building AESGCM costs as much as a short encryption.
    _ciphers: dict[str, AESGCM] = dc_field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def _cipher(self, kid: str) -> AESGCM:
        c = self._ciphers.get(kid)
        if c is None:
            c = self._ciphers[kid] = AESGCM(self.keys[kid])
        return c

    @classmethod
    def from_config(cls, cfg: CryptoConfig, *, demo: bool = False) -> Crypto:
        if demo and not cfg.keys and cfg.hmac_key is None:
            return cls({"demo": _decode_key(DEMO_KEY)}, "demo", _decode_key(DEMO_HMAC))
        if problems := config_problems(cfg):
            raise ConfigError("\n".join(f"{key}: {problem}" for key, problem in problems))
        assert cfg.hmac_key is not None  # config_problems said so otherwise
        keys = {k.id: _decode_key(k.secret.get_secret_value()) for k in cfg.keys}
        return cls(keys, cfg.keys[-1].id, _decode_key(cfg.hmac_key.get_secret_value()))

    def encrypt(self, field: str, value: str | None) -> bytes | None:
        if value is None or value == "":
            return None
        return self.encrypt_bytes(field, value.encode())

    def encrypt_bytes(self, field: str, data: bytes) -> bytes:
        """Any bytes (a raw original, a photo) under the newest key; empty bytes too."""
        kid = self.current_id.encode()
        nonce = os.urandom(12)
        ct = self._cipher(self.current_id).encrypt(nonce, bytes(data), field.encode())
        return bytes([len(kid)]) + kid + nonce + ct

    def decrypt_bytes(self, field: str, blob: bytes) -> bytes:
        blob = bytes(blob)
        kid = self.key_id_of(blob)
        if kid not in self.keys:
            raise ConfigError(f"data was encrypted with key {kid!r}, which is not configured")
        start = 1 + blob[0]
        nonce, ct = blob[start : start + 12], blob[start + 12 :]
        try:
            return self._cipher(kid).decrypt(nonce, ct, field.encode())
        except InvalidTag as exc:
            raise ConfigError(f"cannot decrypt a {field} with key {kid!r}: wrong key") from exc

    def seal_value(self, field: str, value: str) -> dict[str, str]:
        """A value kept inside a JSON document: ``{"k": key id, "c": base64 ciphertext}``
        (the key id beside it lets rotation find old ones in SQL)."""
        blob = self.encrypt_bytes(field, value.encode())
        return {"k": self.current_id, "c": base64.b64encode(blob).decode()}

    def open_value(self, field: str, sealed: object) -> str | None:
        if not isinstance(sealed, dict) or not isinstance(sealed.get("c"), str):
            return None
        return self.decrypt_bytes(field, base64.b64decode(sealed["c"])).decode()

    def digest(self, data: bytes) -> bytes:
        """Keyed hash of raw bytes: recognises the same original without letting anyone
        confirm a guess of a short payload (a plain SHA-256 of a form post would)."""
        return hmac.digest(self.hmac_key, b"raw:" + bytes(data), hashlib.sha256)

    def key_id_of(self, blob: bytes) -> str:
        n = blob[0]
        return blob[1 : 1 + n].decode()

    def decrypt(self, field: str, blob: bytes | None) -> str | None:
        if blob is None:
            return None
        return self.decrypt_bytes(field, blob).decode()

    def needs_rotation(self, blob: bytes | None) -> bool:
        return blob is not None and self.key_id_of(bytes(blob)) != self.current_id

    def match_hash(self, field: str, value: str | None) -> bytes | None:
        """Keyed hash of a normalised value, for matching without decrypting."""
        if not value:
            return None
        norm = value.strip().lower()
        return hmac.digest(self.hmac_key, f"{field}:{norm}".encode(), hashlib.sha256)
