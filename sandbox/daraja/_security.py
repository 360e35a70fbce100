"""The sandbox's own RSA key and self-signed certificate, and the SecurityCredential check."""

from __future__ import annotations

import base64
import binascii
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID


class SandboxCertificate:
    """A fresh 2048-bit key and a certificate for it, as Safaricom publishes one per environment."""

    def __init__(self) -> None:
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Callsheet Daraja sandbox")])
        now = datetime.now(UTC)
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=3650))
            .sign(self._key, hashes.SHA256())
        )

    @property
    def pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    @property
    def der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)

    def write(self, path: str | Path, *, der: bool = False) -> Path:
        """Write the certificate (PEM, or DER) where DARAJA_CERTIFICATE can point."""
        target = Path(path)
        target.write_bytes(self.der if der else self.pem)
        return target

    def decrypts_to(self, credential: object, password: str) -> bool:
        """True when `credential` is base64(RSA-PKCS#1 v1.5(password)) under our key."""
        if not isinstance(credential, str):
            return False
        try:
            encrypted = base64.b64decode(credential, validate=True)
            # OpenSSL may answer a bad padding with random bytes instead of an error.
            plain = self._key.decrypt(encrypted, padding.PKCS1v15())
        except (ValueError, binascii.Error):
            return False
        return secrets.compare_digest(plain, password.encode())
