"""Certificates for the TLS between a pipeline's Dask scheduler and its VM workers.

``glacier package`` makes them with ``cryptography``: a CA that signs one node certificate, then
is thrown away, so nothing can sign another. Every node (the scheduler and each worker) presents
the node certificate and trusts only the CA, so only this package's VMs join the cluster. Dask
checks the chain, not host names, so the certificate needs no address known before ``apply``.
One ``glacier package`` run makes them once and puts the same files in every VM zip (one per
CPU architecture), so VMs booted from different zips trust each other; rerunning it rotates
them. They are not code: the code digest does not cover them.
"""

from __future__ import annotations

import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALID_DAYS = 365
CA_FILE, CERT_FILE, KEY_FILE = "tls/ca.pem", "tls/node.pem", "tls/node.key"


def cluster_certificates(pipeline: str) -> dict[str, bytes]:
    """Archive name -> PEM: the CA certificate, the node certificate and its private key."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"glacier {pipeline} CA")])
    ca = (
        _builder(ca_name, ca_name, ca_key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    node_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"glacier {pipeline} node")])
    usage = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    node = (
        _builder(node_name, ca_name, key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usage), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return {
        CA_FILE: ca.public_bytes(serialization.Encoding.PEM),
        CERT_FILE: node.public_bytes(serialization.Encoding.PEM),
        KEY_FILE: key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    }


def _builder(
    subject: x509.Name, issuer: x509.Name, public: ec.EllipticCurvePublicKey, now: datetime.datetime
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
    )
