"""Content Credentials made at test time: a CA and a signing certificate (cryptography), and
pictures signed with them by c2pa's Builder, so no credential or signed file is committed."""

import datetime as dt
import io
import struct
from dataclasses import dataclass
from pathlib import Path

import c2pa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SIGNER = "Newsroom Camera"
CAPTURE = "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture"


@dataclass(frozen=True)
class Credentials:
    ca_pem: bytes  # the trust anchor
    chain_pem: bytes  # signing certificate, then the CA
    key_pem: bytes


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"{cn} Org"),
        ]
    )


def _usage(*, sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=not sign,
        crl_sign=not sign,
        encipher_only=False,
        decipher_only=False,
    )


def make_credentials() -> Credentials:
    """A root CA and an end-entity certificate c2pa accepts for signing: digitalSignature key
    usage and the emailProtection EKU (c2pa refuses a self-signed end entity)."""
    now = dt.datetime.now(dt.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())

    def builder(subject: x509.Name, issuer: x509.Name, public: ec.EllipticCurvePublicKey):
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        )

    ca = (
        builder(_name("Test Root CA"), _name("Test Root CA"), ca_key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(sign=False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    leaf = (
        builder(_name(SIGNER), ca.subject, key.public_key())
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(sign=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    ca_pem = ca.public_bytes(pem)
    return Credentials(ca_pem, leaf.public_bytes(pem) + ca_pem, key_pem)


def sign(creds: Credentials, source: bytes, mime: str, actions: list[dict] | None = None) -> bytes:
    """`source` with a C2PA manifest signed by `creds`: created by a camera, then `actions`."""
    manifest = {
        "claim_generator_info": [{"name": "firstseen-tests", "version": "1"}],
        "title": "signed",
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {
                    "actions": [{"action": "c2pa.created", "digitalSourceType": CAPTURE}]
                    + (actions or [])
                },
            }
        ],
    }
    info = c2pa.C2paSignerInfo(b"es256", creds.chain_pem, creds.key_pem, None)
    signer = c2pa.Signer.from_info(info)
    context = c2pa.Context.from_dict({"builder": {"thumbnail": {"enabled": False}}})
    out = io.BytesIO()
    with signer, c2pa.Builder(manifest, context=context) as builder:
        builder.sign(signer, mime, io.BytesIO(source), out)
    return out.getvalue()


def changed_after_signing(signed: bytes) -> bytes:
    """The signed JPEG with one byte of its last scan data changed: other pixels, same manifest."""
    data = bytearray(signed)
    data[-20] ^= 0x5A
    return bytes(data)


def oversized_box(signed: bytes) -> bytes:
    """The signed JPEG whose manifest description box says it is 2 GB long."""
    at = signed.find(b"jumd")
    return signed[: at - 4] + struct.pack(">I", 0x7FFFFFFF) + signed[at:]


def corrupt_box(signed: bytes) -> bytes:
    """The signed JPEG with noise over the manifest store's (JUMBF) first boxes, after its
    header (noise over the header too leaves nothing c2pa recognises: no credentials)."""
    at = signed.find(b"jumb") + 20
    return signed[:at] + bytes(range(48, 112)) + signed[at + 64 :]


def exif_with_thumbnail(make: bytes, taken: bytes, thumbnail: bytes) -> bytes:
    """An EXIF block (APP1 payload) Pillow cannot write: IFD0 with Make, an Exif IFD with
    DateTimeOriginal, and IFD1 holding `thumbnail` (JPEG bytes). `make` and `taken` are NUL
    terminated and longer than 4 bytes, so they lie in the data area."""
    ifd0, ifd_exif = 8, 8 + 2 + 2 * 12 + 4
    ifd1 = ifd_exif + 2 + 12 + 4
    make_at = ifd1 + 2 + 2 * 12 + 4
    taken_at = make_at + len(make)
    thumb_at = taken_at + len(taken)

    def entry(tag: int, kind: int, count: int, value: int) -> bytes:
        return struct.pack("<HHII", tag, kind, count, value)

    tiff = b"II*\x00" + struct.pack("<I", ifd0)
    tiff += struct.pack("<H", 2) + entry(0x010F, 2, len(make), make_at)
    tiff += entry(0x8769, 4, 1, ifd_exif) + struct.pack("<I", ifd1)
    tiff += struct.pack("<H", 1) + entry(0x9003, 2, len(taken), taken_at) + struct.pack("<I", 0)
    tiff += struct.pack("<H", 2) + entry(0x0201, 4, 1, thumb_at)
    tiff += entry(0x0202, 4, 1, len(thumbnail)) + struct.pack("<I", 0)
    return b"Exif\x00\x00" + tiff + make + taken + thumbnail


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
