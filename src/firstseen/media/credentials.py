"""A file's Content Credentials: its C2PA manifest read and validated with the official c2pa
bindings, offline.

Nothing is fetched: no remote manifest, no OCSP, no trust list. A signer is trusted only when its
certificate chains to one of the anchors the user configured (`trust_anchors` in config.toml),
none by default, so a valid signature from anyone else is `valid` but not `trusted`. The file
and the manifest are bounded (`PROVENANCE`), and a manifest c2pa cannot parse (a corrupt JUMBF
box, a box longer than the file) gives the `unreadable` state with c2pa's reason, never an error.

States: `none` (no credentials), `trusted`, `valid` (signature checks, signer not in the trust
list), `invalid` (a check failed: `failures`; `changed_after_signing` when a hash of the
content no longer matches), `unreadable` (`reason`), `not_checked` (`reason`: too large).
"""

import json
from pathlib import Path
from typing import Any

import c2pa

from firstseen.errors import FirstseenError, MediaError, user_reason
from firstseen.media.files import check_regular_file
from firstseen.text import printable
from firstseen.tuning import PROVENANCE

# Failure codes that mean the content is not what was signed (c2pa's hard-binding checks).
_CONTENT_CHANGED = frozenset(
    {
        "assertion.dataHash.mismatch",
        "assertion.bmffHash.mismatch",
        "assertion.boxesHash.mismatch",
        "assertion.collectionHash.mismatch",
    }
)
_UNTRUSTED = "signingCredential.untrusted"


def load_anchors(path: Path) -> str:
    """The PEM certificates of a trust list the user named, checked to hold at least one."""
    try:
        check_regular_file(path)
        if path.stat().st_size > PROVENANCE.max_anchors_bytes:
            raise FirstseenError(f"trust anchors {path}: too large for a list of CAs")
        text = path.read_text(encoding="ascii")
    except (MediaError, OSError, UnicodeDecodeError) as exc:
        raise FirstseenError(f"trust anchors {path}: {user_reason(exc)}") from exc
    if "-----BEGIN CERTIFICATE-----" not in text:
        raise FirstseenError(f"trust anchors {path}: no PEM certificate in it")
    return text


def read_credentials(path: Path, anchors: str | None = None) -> dict[str, Any]:
    """The file's Content Credentials and how they validate, as JSON-ready data."""
    try:
        check_regular_file(path)
        size = path.stat().st_size
    except (MediaError, OSError) as exc:
        return {"state": "unreadable", "reason": user_reason(exc)}
    if size > PROVENANCE.max_file_bytes:
        limit = PROVENANCE.max_file_bytes >> 20
        return {"state": "not_checked", "reason": f"file larger than {limit} MB"}
    try:
        with path.open("rb") as stream:
            reader = c2pa.Reader.try_create(stream, context=_context(anchors))
            if reader is None:
                return {"state": "none"}
            with reader:
                store = json.loads(reader.json())
                state = reader.get_validation_state()
                results = reader.get_validation_results()
    except c2pa.C2paError as exc:
        return _unreadable(exc)
    except (OSError, ValueError) as exc:
        return {"state": "unreadable", "reason": _short(user_reason(exc))}
    return _described(store, state, results)


def _context(anchors: str | None) -> c2pa.Context:
    """c2pa's settings for reading offline: no fetching, the user's anchors only."""
    settings: dict[str, Any] = {
        "core": {
            "allowed_network_hosts": [],
            "max_decompressed_manifest_size_in_mb": PROVENANCE.max_manifest_mb,
        },
        "verify": {
            "verify_trust": True,
            "remote_manifest_fetch": False,
            "ocsp_fetch": False,
        },
    }
    if anchors:
        settings["trust"] = {"user_anchors": anchors}
    return c2pa.Context.from_dict(settings)


def _unreadable(exc: c2pa.C2paError) -> dict[str, Any]:
    """c2pa's refusal as a state: a format it does not read holds no credentials it can see."""
    reason = _short(str(exc).partition(": ")[2] or str(exc))
    if isinstance(exc, c2pa.C2paError.NotSupported):
        return {"state": "none", "reason": f"format not read by c2pa: {reason}"}
    return {"state": "unreadable", "reason": reason}


def _described(store: Any, state: Any, results: Any) -> dict[str, Any]:
    manifests = _dict(_dict(store).get("manifests"))
    active = _dict(manifests.get(str(_dict(store).get("active_manifest"))))
    if not active:
        return {"state": "unreadable", "reason": "no active manifest in the manifest store"}
    signature = _dict(active.get("signature_info"))
    failed = _list(_dict(_dict(results).get("activeManifest")).get("failure"))
    codes = [_short(_dict(f).get("code")) or "unknown" for f in failed]
    actions = _actions(active)
    verdict = {"Trusted": "trusted", "Valid": "valid"}.get(str(state), "invalid")
    return {
        "state": verdict,
        "trusted": verdict == "trusted",
        "signer": _short(signature.get("common_name")) or _short(signature.get("issuer")),
        "issuer": _short(signature.get("issuer")),
        "signed_at": _short(signature.get("time")),
        "claim_generator": _generator(active),
        "digital_source_type": _source_type(actions),
        "actions": actions[: PROVENANCE.max_listed],
        "actions_omitted": max(0, len(actions) - PROVENANCE.max_listed),
        "ingredients": _ingredients(active),
        "failures": [c for c in codes if c != _UNTRUSTED][: PROVENANCE.max_listed],
        "changed_after_signing": any(c in _CONTENT_CHANGED for c in codes),
    }


def _generator(manifest: dict[str, Any]) -> str | None:
    """The software that wrote the claim: v2's `claim_generator_info`, else v1's string."""
    info = _list(manifest.get("claim_generator_info"))
    if info:
        first = _dict(info[0])
        name, version = _short(first.get("name")), _short(first.get("version"))
        return f"{name} {version}" if name and version else name
    return _short(manifest.get("claim_generator"))


def _actions(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """The editing history the manifest records, in order (c2pa.actions and c2pa.actions.v2)."""
    found: list[dict[str, Any]] = []
    for assertion in _list(manifest.get("assertions")):
        entry = _dict(assertion)
        if not str(entry.get("label", "")).startswith("c2pa.actions"):
            continue
        for action in _list(_dict(entry.get("data")).get("actions")):
            a = _dict(action)
            agent = a.get("softwareAgent")
            params = _dict(a.get("parameters"))
            found.append(
                {
                    "action": _short(a.get("action")),
                    "software": _short(
                        _dict(agent).get("name") if isinstance(agent, dict) else agent
                    ),
                    "when": _short(a.get("when")),
                    "digital_source_type": _short(a.get("digitalSourceType")),
                    "description": _short(a.get("description") or params.get("description")),
                }
            )
    return found


def _source_type(actions: list[dict[str, Any]]) -> str | None:
    """The IPTC digital source type the history gives (a capture, a composite, a model's output),
    by its last path segment: `digitalCapture`, `trainedAlgorithmicMedia`, …"""
    for action in actions:
        if uri := action["digital_source_type"]:
            return uri.rstrip("/").rsplit("/", 1)[-1]
    return None


def _ingredients(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "title": _short(_dict(i).get("title")),
            "format": _short(_dict(i).get("format")),
            "relationship": _short(_dict(i).get("relationship")),
        }
        for i in _list(manifest.get("ingredients"))[: PROVENANCE.max_listed]
    ]


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _short(value: Any) -> str | None:
    """A manifest's text as shown: escaped and cut; None when absent or not text."""
    if not isinstance(value, str) or not value.strip():
        return None
    limit = PROVENANCE.field_chars
    return printable(value[:limit]) + ("… (cut)" if len(value) > limit else "")
