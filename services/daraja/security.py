"""The SecurityCredential: the API operator's password, encrypted for Safaricom.

RSA with PKCS#1 v1.5 padding (not OAEP) under the public key of Safaricom's
certificate for the environment (sandbox and production differ; the wrong one
gives result 2001), then base64. The padding is random, so two credentials for
one password never compare equal.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from services.daraja._errors import DarajaConfigError

_SHORTCODE = re.compile(r"[0-9]{5,7}")


def load_certificate(path: str | Path) -> RSAPublicKey:
    """The RSA public key of the certificate at `path` (PEM or DER).

    Raises DarajaConfigError with one line saying what is wrong with the file.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise DarajaConfigError(f"cannot read the certificate {path} ({reason})") from exc
    try:
        if b"-----BEGIN" in data:
            certificate = x509.load_pem_x509_certificate(data)
        else:
            certificate = x509.load_der_x509_certificate(data)
    except ValueError as exc:
        raise DarajaConfigError(
            f"{path} is not an X.509 certificate in PEM or DER form "
            "(download Safaricom's certificate for DARAJA_ENV from the Daraja portal)"
        ) from exc
    key = certificate.public_key()
    if not isinstance(key, RSAPublicKey):
        raise DarajaConfigError(f"the certificate {path} does not hold an RSA key")
    return key


def security_credential(public_key: RSAPublicKey, password: str) -> str:
    """base64(RSA-PKCS#1 v1.5(password)): a new value on every call."""
    encrypted = public_key.encrypt(password.encode(), padding.PKCS1v15())
    return base64.b64encode(encrypted).decode("ascii")


@dataclass(frozen=True)
class Initiator:
    """The API operator that B2C, Transaction Status, Account Balance and Reversal act as.

    `shortcode` pays out (B2C), is asked about (Account Balance, Transaction
    Status) and receives reversals.
    """

    name: str
    password: str = field(repr=False)
    public_key: RSAPublicKey = field(repr=False)
    shortcode: str

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise DarajaConfigError("the API operator (initiator) name is empty")
        if not self.password:
            raise DarajaConfigError("the API operator (initiator) password is empty")
        if not _SHORTCODE.fullmatch(self.shortcode):
            raise DarajaConfigError(f"B2C shortcode {self.shortcode!r} must be 5-7 digits")

    @classmethod
    def from_certificate(
        cls, name: str, password: str, certificate: str | Path, shortcode: str
    ) -> Initiator:
        return cls(name, password, load_certificate(certificate), shortcode)

    def credential(self) -> str:
        return security_credential(self.public_key, self.password)
