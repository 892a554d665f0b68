"""The review page's server without a browser: the token, the paths it serves, range requests, the API."""

from __future__ import annotations

import os

import pytest

from soundtag.data.reviewed import read_decisions
from tests.labels.review.conftest import TOKEN, review_session, make_client


@pytest.mark.parametrize("method, path", [("GET", "/"), ("GET", "/api/state"), ("GET", "/api/clips"),
                                          ("GET", "/static/app.js"), ("GET", "/audio/u-Bark-0.wav"),
                                          ("GET", "/picture/u-Bark-0.wav"), ("POST", "/api/decision"),
                                          ("POST", "/api/undo")])
def test_every_request_without_the_token_is_refused(client, method, path):
    assert client.request(method, path).status_code == 403
    assert client.request(method, f"{path}?token=wrong-{TOKEN}").status_code == 403
    client.cookies.set("soundtag_review_x", TOKEN)  # the token in a cookie of another name
    assert client.request(method, path).status_code == 403


def test_the_token_in_the_address_sets_a_strict_http_only_cookie_and_leaves_the_address(client):
    first = client.get(f"/?token={TOKEN}", follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == "/"
    cookie = first.headers["set-cookie"]
    assert TOKEN in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    page = client.get("/")
    assert page.status_code == 200 and "soundtag review" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["referrer-policy"] == "no-referrer"
    assert client.get("/static/app.js").status_code == 200


def test_clips_come_in_pages_most_doubted_first_with_filters(signed_in):
    state = signed_in.get("/api/state").json()
    assert state["labels"] == ["Bark", "Cough", "Flute"] and state["counts"]["clips"] == 9
    page = signed_in.get("/api/clips", params={"limit": 4}).json()
    assert page["total"] == 9 and page["before"] == 0 and [c["rank"] for c in page["clips"]] == [1, 2, 3, 4]
    after = signed_in.get("/api/clips", params={"limit": 4, "start": 5}).json()
    assert [c["rank"] for c in after["clips"]] == [5, 6, 7, 8] and after["before"] == 4
    before = signed_in.get("/api/clips", params={"limit": 2, "end": 5}).json()
    assert [c["rank"] for c in before["clips"]] == [3, 4]
    barks = signed_in.get("/api/clips", params={"label": "Bark"}).json()["clips"]
    assert barks and all(c["given"] == "Bark" for c in barks)
    doubted = signed_in.get("/api/clips", params={"verdict": "cl_doubts"}).json()["clips"]
    assert doubted and all("cl_doubts" in c["verdicts"] for c in doubted)
    assert len(page["clips"][0]["suggestions"]) == 3


def test_decisions_are_written_to_the_review_folder_and_undone_by_a_row(signed_in, session, tmp_path):
    first, second, third = (c["fname"] for c in signed_in.get("/api/clips", params={"limit": 3}).json()["clips"])
    assert signed_in.post("/api/decision", json={"fname": first, "decision": "accept"}).status_code == 200
    reply = signed_in.post("/api/decision", json={"fname": second, "decision": "relabel", "label": "Flute"}).json()
    assert reply["decision"]["label"] == "Flute"
    signed_in.post("/api/decision", json={"fname": third, "decision": "none"})
    assert signed_in.post("/api/undo").json()["undone"] == third
    rows = read_decisions(tmp_path / "review" / "reviewed.csv")
    assert [(r.fname, r.decision) for r in rows] == [(first, "accept"), (second, "relabel" if session.given_of(second)
                                                     != "Flute" else "accept"), (third, "none"), (third, "undo")]
    assert rows[0].label == session.given_of(first)
    pending = signed_in.get("/api/clips").json()
    assert pending["total"] == 7 and third in [c["fname"] for c in pending["clips"]]
    reviewed = signed_in.get("/api/clips", params={"status": "reviewed"}).json()["clips"]
    assert {c["fname"]: c["decision"]["decision"] for c in reviewed}[first] == "accept"


@pytest.mark.parametrize("body, words", [({"fname": "u-Bark-0.wav", "decision": "relabel", "label": "Horn"},
                                          "not in the vocabulary"),
                                         ({"fname": "v-Bark-0.wav", "decision": "accept"}, "not an unverified clip"),
                                         ({"fname": "u-Bark-0.wav", "decision": "maybe"}, "unknown decision")])
def test_a_decision_that_does_not_fit_is_refused_and_not_written(signed_in, tmp_path, body, words):
    reply = signed_in.post("/api/decision", json=body)
    assert reply.status_code == 400 and words in reply.text
    assert read_decisions(tmp_path / "review" / "reviewed.csv") == []


def test_a_restarted_server_shows_the_decisions_so_far(signed_in, tone_corpus, tmp_path):
    fname = signed_in.get("/api/clips").json()["clips"][0]["fname"]
    signed_in.post("/api/decision", json={"fname": fname, "decision": "skip"})
    again = review_session(tone_corpus, tmp_path / "review")
    assert again.counts() == {"clips": 9, "reviewed": 0, "skipped": 1, "changed": 0}
    assert fname not in again.fnames[again.select(status="pending")]


def test_audio_is_served_with_range_requests(signed_in, tone_corpus):
    size = (tone_corpus / "audio_train" / "u-Bark-0.wav").stat().st_size
    part = signed_in.get("/audio/u-Bark-0.wav", headers={"Range": "bytes=0-99"})
    assert part.status_code == 206 and part.headers["content-range"] == f"bytes 0-99/{size}"
    assert part.content == (tone_corpus / "audio_train" / "u-Bark-0.wav").read_bytes()[:100]
    tail = signed_in.get("/audio/u-Bark-0.wav", headers={"Range": "bytes=1000-"})
    assert tail.status_code == 206 and tail.headers["content-range"] == f"bytes 1000-{size - 1}/{size}"
    whole = signed_in.get("/audio/u-Bark-0.wav")
    assert whole.status_code == 200 and whole.headers["accept-ranges"] == "bytes" and len(whole.content) == size
    assert signed_in.get("/audio/u-Bark-0.wav", headers={"Range": f"bytes={size + 10}-"}).status_code == 416


@pytest.mark.parametrize("path", ["/audio/../train.csv", "/audio/%2e%2e/train.csv", "/audio/..%2ftrain.csv",
                                  "/audio//etc/passwd", "/audio/%2fetc%2fpasswd", "/audio/audio_train/u-Bark-0.wav",
                                  "/picture/../train.csv", "/audio/nothing.wav"])
def test_only_the_corpus_s_clips_are_served(signed_in, path):
    reply = signed_in.get(path)
    assert reply.status_code in (403, 404) and b"root:" not in reply.content and b"fname" not in reply.content


def test_a_clip_that_links_out_of_the_corpus_is_not_served(tmp_path, tone_corpus):
    import shutil

    from soundtag.labels.review.server import create_app

    root = tmp_path / "corpus"
    shutil.copytree(tone_corpus, root)
    outside = tmp_path / "secret.wav"
    shutil.copy(root / "audio_train" / "u-Bark-0.wav", outside)
    (root / "audio_train" / "u-Bark-0.wav").unlink()
    os.symlink(outside, root / "audio_train" / "u-Bark-0.wav")
    client = make_client(create_app(review_session(root, tmp_path / "review"), TOKEN))
    client.get(f"/?token={TOKEN}")
    assert client.get("/audio/u-Bark-0.wav").status_code == 404
    assert client.get("/picture/u-Bark-0.wav").status_code == 404
    assert client.get("/audio/u-Cough-0.wav").status_code == 200


def test_the_picture_is_a_png_drawn_once_into_the_review_folder(signed_in, tmp_path, tone_corpus):
    before = sorted(p.name for p in tone_corpus.rglob("*"))
    reply = signed_in.get("/picture/u-Flute-1.wav")
    assert reply.status_code == 200 and reply.headers["content-type"] == "image/png"
    assert reply.content.startswith(b"\x89PNG")
    drawn = list((tmp_path / "review" / "pictures").glob("*.png"))
    assert len(drawn) == 1
    assert signed_in.get("/picture/u-Flute-1.wav").content == reply.content
    assert sorted(p.name for p in tone_corpus.rglob("*")) == before
