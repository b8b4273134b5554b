"""BUCP files: attachments (limits, types, who may download) and the Word and Markdown exports."""

from __future__ import annotations

import io
from pathlib import Path

import docx
import pytest
from sqlalchemy import select

from kb import create_app
from kb.extensions import db
from kb.models import Bucp
from kb.models import BucpAttachment
from kb.models import ClauseType
from kb.seed import install_taxonomy
from tests.conftest import _test_config
from tests.test_bucps import insert
from tests.test_bucps import new_bucp  # noqa: F401 (fixture)
from tests.test_bucps import text
from tests.test_bucps import workspace  # noqa: F401 (fixture)

PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def upload(client, bucp_id: int, name: str, content: bytes):
    return client.post(
        f"/bucps/{bucp_id}/attachments",
        data={"file": (io.BytesIO(content), name)},
        content_type="multipart/form-data",
    )


def stored_files(app) -> list[Path]:
    folder = Path(app.config["DATA_DIR"]) / "attachments"
    return sorted(folder.iterdir()) if folder.exists() else []


# --- attachments ----------------------------------------------------------------------------


def test_upload_and_download_for_those_who_may_see(app, users, login, new_bucp):  # noqa: F811
    bucp_id = new_bucp()
    client = login("cora")
    response = upload(client, bucp_id, "../../Signed BUCP 2019.pdf", PDF)
    assert response.status_code == 303
    with app.app_context():
        attachment = db.session.scalar(select(BucpAttachment))
        assert attachment.filename == "Signed BUCP 2019.pdf" and attachment.size == len(PDF)
        assert attachment.content_type == "application/pdf"
        attachment_id, stored_name = attachment.id, attachment.stored_name
    assert [p.name for p in stored_files(app)] == [stored_name]
    assert "Signed BUCP 2019.pdf" not in stored_name
    url = f"/bucps/{bucp_id}/attachments/{attachment_id}"
    with client.get(url) as download:
        assert download.status_code == 200 and download.data == PDF
        disposition = download.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and "Signed_BUCP_2019.pdf" in disposition
    assert login("cal").get(url).status_code == 403
    with login("cu").get(url) as curator_download:
        assert curator_download.status_code == 200
    assert login(None).get(url).status_code == 303
    assert client.get(f"/bucps/{bucp_id}/attachments/999").status_code == 404
    assert login("cal").post(f"/bucps/{bucp_id}/attachments").status_code == 403


def test_too_large_is_413_and_nothing_is_kept(app, users, login, new_bucp):  # noqa: F811
    bucp_id = new_bucp()
    app.config["BUCP_ATTACHMENT_MAX_BYTES"] = 2000
    client = login("cora")
    # larger than the file limit but within the request allowance: caught while copying
    response = upload(client, bucp_id, "notes.txt", b"a" * 2001)
    assert response.status_code == 413 and "larger than the 1.95 KB limit" in text(response)
    # far larger: refused before the body is read
    response = upload(client, bucp_id, "notes.txt", b"a" * 200_000)
    assert response.status_code == 413
    assert upload(client, bucp_id, "notes.txt", b"a" * 2000).status_code == 303
    with app.app_context():
        assert len(db.session.scalars(select(BucpAttachment)).all()) == 1
    assert len(stored_files(app)) == 1


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("program.exe", b"MZ\x90\x00", "Only these kinds of file"),
        ("no-extension", b"text", "Only these kinds of file"),
        ("fake.pdf", b"just text", "does not look like a .pdf file"),
        ("fake.docx", PDF, "does not look like a .docx file"),
        ("binary.csv", b"a,b\x00\x01", "does not look like a .csv file"),
        ("empty.txt", b"", "The file is empty"),
    ],
)
def test_bad_types_are_422(app, users, login, new_bucp, name, content, message):  # noqa: F811
    bucp_id = new_bucp()
    response = upload(login("cora"), bucp_id, name, content)
    assert response.status_code == 422 and message in text(response)
    assert stored_files(app) == []


def test_upload_needs_the_csrf_token(tmp_path, workspace_app):
    app, bucp_id, client = workspace_app
    response = upload(client, bucp_id, "notes.txt", b"hello")
    assert response.status_code == 400 and "expired" in text(response)
    assert stored_files(app) == []


@pytest.fixture
def workspace_app(tmp_path):
    """An app with CSRF protection on, a signed-in contributor and one BUCP of theirs."""
    from kb.auth.services import create_user
    from kb.bucps.services import create_bucp
    from kb.models import Department

    app = create_app(_test_config(tmp_path, SEARCH_INDEX_IN_MEMORY=True, WTF_CSRF_ENABLED=True))
    with app.app_context():
        db.create_all()
        install_taxonomy(db.session)
        user = create_user(db.session, "cora", role="contributor", password="correct horse")
        department = Department(name="Department of Mass Transit")
        db.session.add(department)
        db.session.flush()
        bucp = create_bucp(
            db.session,
            {"title": "T", "program": "W2W", "provider_id": department.id},
            creator=user,
        )
        db.session.commit()
        bucp_id = bucp.id
    client = app.test_client()
    page = text(client.get("/login"))
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    data = {"username": "cora", "password": "correct horse", "csrf_token": token}
    assert client.post("/login", data=data).status_code == 303
    yield app, bucp_id, client
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_section_csrf_failure_keeps_the_text(workspace_app):
    app, bucp_id, client = workspace_app
    url = f"/bucps/{bucp_id}/sections/use-case-name"
    response = client.post(url, data={"text": "Typed before the token expired", "version": "1"})
    assert response.status_code == 400
    assert "Typed before the token expired</textarea>" in text(response)


# --- exports --------------------------------------------------------------------------------


@pytest.fixture
def assembled(app, users, login, new_bucp, workspace):  # noqa: F811
    """A BUCP with two inserted clauses, one own section text and filled placeholders."""
    bucp_id = new_bucp(title="Park visits evaluation")
    client = login("cora")
    insert(client, bucp_id, "use-case-description", workspace["standard"])
    insert(client, bucp_id, "data-elements", workspace["elements"])
    client.post(
        f"/bucps/{bucp_id}/sections/legal-authority",
        data={"text": "Statute for {{ program_name }}.", "version": "1"},
    )
    client.post(
        f"/bucps/{bucp_id}/placeholders",
        data={
            "value-requesting_department": "CDW",
            "value-data_provider": "DOR",
            "value-program_name": "Healthy Habits",
        },
    )
    return bucp_id


def expected_order(app, bucp_id: int) -> list[str]:
    """Names of the sections an export holds: written ones and required ones, in form order."""
    with app.app_context():
        bucp = db.session.get(Bucp, bucp_id)
        sections = sorted(bucp.sections, key=lambda s: s.clause_type.position)
        return [
            s.clause_type.name
            for s in sections
            if s.text or s.clause_type.requirement == "required"
        ]


def test_docx_export_holds_the_sections_in_order_with_values(app, login, assembled):
    response = login("cora").get(f"/bucps/{assembled}/export?format=docx")
    assert response.status_code == 200
    assert (
        "bucp-" in response.headers["Content-Disposition"]
        and ".docx" in (response.headers["Content-Disposition"])
    )
    document = docx.Document(io.BytesIO(response.data))
    headings = [p.text for p in document.paragraphs if p.style.name == "Heading 2"]
    assert headings == expected_order(app, assembled)
    with app.app_context():
        names = [
            t.name for t in db.session.scalars(select(ClauseType).order_by(ClauseType.position))
        ]
    assert [names.index(h) for h in headings] == sorted(names.index(h) for h in headings)
    body = "\n".join(p.text for p in document.paragraphs)
    assert "CDW asks DOR for records of Healthy Habits." in body
    assert "Statute for Healthy Habits." in body
    assert "{{ field_list }}" in body  # unfilled stays visible
    groups = [p.text for p in document.paragraphs if p.style.name == "Heading 1"]
    assert groups == ["Business case", "Technical", "Administrative"]
    assert document.paragraphs[0].text == "Park visits evaluation"
    facts = {row.cells[0].text: row.cells[1].text for row in document.tables[0].rows}
    assert facts["Data provider"] == "Department of Outdoor Recreation"


def test_markdown_export(app, login, assembled):
    response = login("cora").get(f"/bucps/{assembled}/export?format=md")
    assert response.status_code == 200 and response.mimetype == "text/markdown"
    markdown = text(response)
    assert markdown.startswith("# Park visits evaluation\n")
    headings = [line[4:] for line in markdown.splitlines() if line.startswith("### ")]
    assert headings == expected_order(app, assembled)
    assert "CDW asks DOR for records of Healthy Habits." in markdown
    assert "{{ requesting_department }}" not in markdown


def test_export_refuses_unknown_formats_and_outsiders(app, login, assembled):
    assert login("cora").get(f"/bucps/{assembled}/export?format=pdf").status_code == 400
    assert login("cal").get(f"/bucps/{assembled}/export?format=md").status_code == 403
    assert login("cu").get(f"/bucps/{assembled}/export?format=md").status_code == 200
