"""The book lane's warm-up list is checked by reading the zoo's own first-use message."""
import nbformat

from course_utils.cnn import training, zoo
from sitetools import zoo_warmup


def test_the_first_use_message_the_zoo_prints_is_what_the_check_reads(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_UTILS_CACHE", str(tmp_path))
    monkeypatch.setattr(zoo, "fit", lambda *a, **k: training.History())  # the message, not training
    monkeypatch.setattr(zoo, "save_checkpoint", lambda *a, **k: None)
    monkeypatch.setattr(zoo, "zoo_data", lambda name: (None, None))  # fit is not called on them
    zoo._train(zoo.untrained("photo_deep"), "photo_deep", 1, zoo.checkpoint_path("photo_deep", 1),
               progress=True)
    printed = capsys.readouterr().out
    cell = nbformat.v4.new_code_cell("zoo.pretrained('photo_deep', seed=1)")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=printed * 2)]
    (tmp_path / "book").mkdir()
    nbformat.write(nbformat.v4.new_notebook(cells=[cell]), tmp_path / "book" / "04_hierarchy.ipynb")
    assert zoo_warmup.trained_by_chapters(tmp_path) == [("photo_deep", 1)]
