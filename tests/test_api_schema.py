"""The HTTP API against its own OpenAPI schema: Schemathesis generates requests (multipart bodies
included) from /openapi.json and checks every answer, status and header against what the schema
states, on a writable server this module starts on 127.0.0.1 over a copy of the demo archive."""

import shutil
import socket
import threading
import time

import pytest
import requests
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, reject, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import FailureGroup

from firstseen.archive.store import Archive
from firstseen.server import ServerSettings, Service, create_app

TOKEN = "schema-check-token"
EXAMPLES = 25  # per operation: about 200 requests, well under a minute on two cores


@pytest.fixture(scope="module")
def served(demo_archive, demo_searcher, tmp_path_factory):
    """The base URL of a real server (uvicorn, as `firstseen serve` runs it) on a free port."""
    root = tmp_path_factory.mktemp("schema") / "archive"
    shutil.copytree(demo_archive.root, root)
    service = Service(Archive(root), ServerSettings(token=TOKEN), searcher=demo_searcher)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    config = uvicorn.Config(create_app(service), log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    server.should_exit = True
    thread.join(30)
    listener.close()


@pytest.fixture(scope="module")
def session() -> requests.Session:
    """A session that goes straight to loopback, whatever proxy the environment names."""
    with requests.Session() as made:
        made.trust_env = False
        yield made


# An upload the schema allows may still be no picture firstseen can decode: the routes say so
# with 415 (unrecognised content) and 422 (empty or undecodable), as their schema documents.
UPLOADS_JUDGED_BY_CONTENT = {
    "include-method": "POST",
    "include-path": ["/api/search", "/api/items"],
    "checks": {
        "positive_data_acceptance": {"expected-statuses": ["2xx", "401", "403", "415", "422"]}
    },
}


@pytest.fixture(scope="module")
def api_schema(served, session):
    config = SchemathesisConfig.from_dict({"operations": [UPLOADS_JUDGED_BY_CONTENT]})
    loaded = schemathesis.openapi.from_dict(
        session.get(f"{served}/openapi.json").json(), config=config
    )
    loaded.config.update(base_url=served)
    return loaded


def untyped_on_the_wire(case) -> bool:
    """A multipart text field that Schemathesis made a number, null, list or object to break the
    schema: every part of a multipart body is text, so what reaches the server is a valid string
    (`null`, `5`) or a repeated part, and accepting it is right."""
    if case.media_type != "multipart/form-data" or not isinstance(case.body, dict):
        return False
    return any(not isinstance(v, str) for k, v in case.body.items() if k != "file")


def test_every_answer_is_the_one_the_schema_states(api_schema, session):
    """Every operation, with requests the schema allows and requests it does not, under all of
    Schemathesis's checks. (Its lazy pytest fixture loader does not run under pytest 9, so the
    operations are driven here through their Hypothesis strategies.)"""
    auth = {"Authorization": f"Bearer {TOKEN}"}
    failures = []
    for result in api_schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def check(case) -> None:
                if untyped_on_the_wire(case):
                    reject()
                case.call_and_validate(session=session, headers=auth)

            try:
                check()
            except Unsatisfiable:  # no request breaks an operation that takes no input
                assert mode is GenerationMode.NEGATIVE
            except (AssertionError, FailureGroup) as exc:  # gathered: one hides no other
                failures.append(f"{operation.label} ({mode.value}): {exc}")
    assert not failures, "\n\n".join(failures)


def test_options_and_wrong_methods_name_every_method_of_the_path(served, session):
    for path, methods in (
        ("/api/items", {"GET", "POST"}),
        ("/api/items/1", {"GET", "DELETE"}),
        ("/health", {"GET"}),
    ):
        options = session.options(served + path)
        assert options.status_code == 204, (path, options.text)
        assert set(options.headers["Allow"].split(", ")) == methods | {"OPTIONS"}
        wrong = session.put(served + path)
        assert wrong.status_code == 405 and wrong.json()["status"] == 405
        assert set(wrong.headers["Allow"].split(", ")) == methods | {"OPTIONS"}


def test_a_foreign_host_is_refused_by_the_real_server(served, session):
    answer = session.get(f"{served}/api/items", headers={"Host": "attacker.example"})
    assert answer.status_code == 421 and "--allow-host" in answer.json()["error"]
    assert session.get(f"{served}/api/items").status_code == 200
