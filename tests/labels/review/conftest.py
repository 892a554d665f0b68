"""A review session of the tiny tone corpus, with a made-up ranking (no cleaner runs), and its app."""

from __future__ import annotations

import pytest

pytest.importorskip("starlette", reason="the review page needs starlette (pip install 'soundtag[review]')")

from soundtag.config import AudioConfig, LogMelConfig  # noqa: E402
from soundtag.data import read_corpus  # noqa: E402
from tests.labels.review.corpus import make_review_corpus, synthetic_ranking  # noqa: E402

TOKEN = "test-token-0123456789"


def review_session(corpus_root, review_dir):
    """A :class:`ReviewSession` of ``corpus_root``'s unverified clips, writing into ``review_dir``."""
    from soundtag.labels.review.decisions import DecisionLog
    from soundtag.labels.review.pictures import Pictures
    from soundtag.labels.review.server import ReviewSession

    corpus = read_corpus(corpus_root)
    unverified = [clip for clip in corpus.train if not clip.verified]
    ranking = synthetic_ranking([c.fname for c in unverified], [c.label for c in unverified], corpus.labels)
    pictures = Pictures(review_dir / "pictures", AudioConfig(sample_rate=16000),
                        LogMelConfig(n_fft=512, hop_length=160))
    return ReviewSession(corpus, ranking, DecisionLog(review_dir), pictures, "tests")


def make_client(app):
    """Starlette's TestClient of ``app`` (over httpx, whose use Starlette now marks deprecated)."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient`")
        from starlette.testclient import TestClient

    return TestClient(app, base_url="http://127.0.0.1")


@pytest.fixture(scope="session")
def tone_corpus(tmp_path_factory):
    return make_review_corpus(tmp_path_factory.mktemp("tones"))


@pytest.fixture
def session(tone_corpus, tmp_path):
    return review_session(tone_corpus, tmp_path / "review")


@pytest.fixture
def client(session):
    from soundtag.labels.review.server import create_app

    return make_client(create_app(session, TOKEN))


@pytest.fixture
def signed_in(client):
    """The client with the session's cookie (got by opening the page with the token)."""
    assert client.get(f"/?token={TOKEN}", follow_redirects=False).status_code == 303
    return client
