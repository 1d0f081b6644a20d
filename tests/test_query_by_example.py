"""Query by example (a picture, an indexed segment, a picture plus words) and the LangChain retriever."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image, ImageOps
from skimage import data

from core.config import Settings
from omnidex.service import Omnidex
from retrieval.filters import SearchFilters
from tests.conftest import write_pdf


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("examples")
    photos = root / "photos"
    photos.mkdir()
    for name in ("chelsea", "coffee", "rocket", "astronaut"):
        Image.fromarray(getattr(data, name)()).save(photos / f"{name}.jpg")
    ImageOps.mirror(Image.fromarray(data.chelsea())).save(photos / "chelsea-mirrored.png")
    write_pdf(root / "docs" / "espresso.pdf", ["Pull the espresso shot for 25 seconds at 9 bar.",
                                               "Descale the machine every month."])
    app = Omnidex(Settings(data_dir=root / "data"))
    report = app.ingest([photos, root / "docs"])
    assert report.count("failed") == 0
    yield app, root
    app.close()


def test_a_picture_as_the_query_finds_its_lookalikes(library) -> None:
    app, root = library
    query = Image.fromarray(data.chelsea()).crop((40, 20, 420, 290))  # a crop, not the file itself
    hits = app.search_by_image(query, filters=SearchFilters(file_types=("image",)), limit=3)
    assert {Path(h.path).name for h in hits[:2]} == {"chelsea.jpg", "chelsea-mirrored.png"}


def test_find_similar_from_an_indexed_segment(library) -> None:
    app, _ = library
    cat = next(h for h in app.search("a cat", SearchFilters(file_types=("image",)), limit=5)
               if Path(h.path).name == "chelsea.jpg")
    similar = app.find_similar(cat.id, SearchFilters(file_types=("image",)), limit=3)
    assert cat.id not in {h.id for h in similar}
    assert Path(similar[0].path).name == "chelsea-mirrored.png"


def test_words_steer_a_picture_query(library) -> None:
    app, _ = library
    cat = Image.fromarray(data.chelsea())
    alone = app.search_by_image(cat, filters=SearchFilters(file_types=("image",)), limit=5)
    steered = app.search_by_image(cat, "a cup of espresso coffee", text_weight=0.7,
                                  filters=SearchFilters(file_types=("image",)), limit=5)
    rank = lambda hits: [Path(h.path).name for h in hits].index("coffee.jpg")  # noqa: E731
    assert rank(steered) < rank(alone)
    assert Path(steered[0].path).name == "coffee.jpg"


def test_langchain_retriever_in_an_lcel_chain(library) -> None:
    from langchain_core.runnables import RunnableLambda

    from omnidex.langchain import OmnidexRetriever

    app, _ = library
    retriever = OmnidexRetriever(app=app, k=3)
    docs = retriever.invoke("how long should an espresso shot take")
    assert docs and Path(docs[0].metadata["path"]).name == "espresso.pdf"
    assert docs[0].metadata["page"] == 1 and docs[0].metadata["modality"] == "text"
    assert "score" in docs[0].metadata and "25 seconds" in docs[0].page_content

    cite = RunnableLambda(lambda ds: [f"{Path(d.metadata['path']).name} p.{d.metadata['page']}" for d in ds])
    chain = OmnidexRetriever(app=app, k=3, filters=SearchFilters(file_types=("pdf",))) | cite
    assert chain.invoke("descaling the machine")[0] == "espresso.pdf p.2"
