"""Where Daraja posts the operator APIs' results: PUBLIC_BASE_URL/daraja/<product>/…/<secret>.

The secret is DARAJA_CALLBACK_SECRET, as in the STK callback URL; one path per
product, because a failed result does not say which product it answers.
"""

from __future__ import annotations

from services.daraja.results import Product


def result_path(product: Product) -> str:
    """The route prefix for results; the secret is the last segment."""
    return f"/daraja/{product.value}/result/"


def timeout_path(product: Product) -> str:
    return f"/daraja/{product.value}/timeout/"


def result_url(public_base_url: str, product: Product, secret: str) -> str:
    return public_base_url.rstrip("/") + result_path(product) + secret


def timeout_url(public_base_url: str, product: Product, secret: str) -> str:
    return public_base_url.rstrip("/") + timeout_path(product) + secret
