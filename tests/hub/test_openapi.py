from hub.app import openapi_document
from hub.cli.main import OPENAPI_PATH, render_openapi
from hub.config import Settings
from hub.persistence.migrations import PROJECT_ROOT


def test_committed_openapi_document_is_current():
    committed = (PROJECT_ROOT / OPENAPI_PATH).read_text()
    assert committed == render_openapi(openapi_document(Settings())), (
        "openapi/hub-ocpi-2.2.1.json is stale: run `hub openapi` and commit the result"
    )


def test_openapi_documents_every_credentials_operation():
    document = openapi_document(Settings())
    operations = {
        (path, method)
        for path, item in document["paths"].items()
        for method in item
        if method in {"get", "post", "put", "delete"}
    }
    assert {
        ("/ocpi/versions", "get"),
        ("/ocpi/2.2.1", "get"),
        ("/ocpi/2.2.1/credentials", "get"),
        ("/ocpi/2.2.1/credentials", "post"),
        ("/ocpi/2.2.1/credentials", "put"),
        ("/ocpi/2.2.1/credentials", "delete"),
    } <= operations
