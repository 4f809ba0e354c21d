import os
import subprocess
import sys

import pytest
import torch
from torch import nn

from course_utils.cnn import training, zoo
from course_utils.data import loaders
from course_utils.cnn import models, training, zoo


@pytest.mark.parametrize("name,size", [("small", 28), ("lenet", 28), ("deep", 32)])
def test_model_output_shapes_and_names(name, size):
    model = models.build_model(name, in_channels=3, num_classes=7, image_size=size)
    assert model(torch.zeros(2, 3, size, size)).shape == (2, 7)
    assert model.layer_names[0] == "conv1" and model.layer_names[-1] == "fc"
    assert set(model.layer_names) == {n for n, _ in model.named_children()}


def test_batch_norm_variant_sits_between_each_convolution_and_its_activation():
    plain, normed = models.build_model("deep8"), models.build_model("deep8_bn")
    assert not plain.batch_norm and normed.batch_norm
    assert [n for n in normed.layer_names if not n.startswith("bn")] == plain.layer_names
    for i in range(1, 9):   # conv_i, bn_i, relu_i in a row
        at = normed.layer_names.index(f"conv{i}")
        assert normed.layer_names[at + 1 : at + 3] == [f"bn{i}", f"relu{i}"]
    assert models.count_parameters(normed) == models.count_parameters(plain) + 8 * 2 * 16
    # in training mode each bn output is its input standardised per channel (torch's reference)
    normed.train()
    x = torch.rand(5, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    pre = normed.conv1(x)
    expected = nn.functional.batch_norm(pre, None, None, training=True)   # gamma 1, beta 0
    assert torch.allclose(normed.bn1(pre), expected, atol=1e-5)
    assert normed(x).shape == (5, 10)


def test_bad_model_configs():
    with pytest.raises(ValueError, match="unknown model config"):
        models.build_model("resnet")
    with pytest.raises(ValueError, match="unknown model config 'resnet_bn'.*'_bn'"):
        models.build_model("resnet_bn")
    with pytest.raises(ValueError, match="activation"):
        models.build_model("small", activation="swish")
    with pytest.raises(ValueError, match="kernel sizes"):
        models.ConvNet([8, "M", 8], [3])


def _tiny_task():
    return loaders.load_dataset("shapes", n=256, size=16, seed=0).split(0.25, seed=0)


def _tiny_model(seed=0):
    torch.manual_seed(seed)
    return models.ConvNet([8, "M", 16, "G"], [3, 3], 1, 4, 16)


def test_fit_learns_and_returns_history():
    train, test = _tiny_task()
    model = _tiny_model()
    before = training.evaluate(model, test)["accuracy"]
    history = training.fit(model, train, test, epochs=12, lr=1e-2, batch_size=32, progress=False)
    assert len(history.loss) == 12 and history.loss[-1] < history.loss[0]
    assert history.val_accuracy[-1] > max(0.6, before + 0.2)
    assert all(rate > 0 for rate in history.images_per_second)
    assert not model.training  # fit leaves the model ready for analysis


def test_same_seed_same_weights():
    train, _ = _tiny_task()
    weights = []
    for _ in range(2):
        model = _tiny_model()
        training.fit(model, train, epochs=2, seed=7, batch_size=32, progress=False, augment=lambda x, g: loaders.random_shift(x, 1, g))
        weights.append(torch.cat([p.flatten() for p in model.parameters()]))
    assert torch.equal(weights[0], weights[1])
    other = _tiny_model()
    training.fit(other, train, epochs=2, seed=8, batch_size=32, progress=False)
    assert not torch.equal(weights[0], torch.cat([p.flatten() for p in other.parameters()]))


def test_building_and_training_leave_the_callers_random_numbers_alone():
    """What a chapter draws after a model is built or trained does not depend on whether it was
    (the zoo may have had it cached): fit and untrained seed torch only inside training.seeded."""
    train, _ = _tiny_task()
    torch.manual_seed(123)
    expected = torch.rand(4)
    torch.manual_seed(123)
    dropout_model = nn.Sequential(nn.Flatten(), nn.Dropout(0.5), nn.Linear(256, 4))
    torch.manual_seed(123)
    zoo.untrained("mnist_small", seed=5)
    training.fit(dropout_model, train, epochs=1, seed=7, batch_size=32, progress=False)
    assert torch.equal(torch.rand(4), expected)
    with training.seeded(9):
        inside = torch.rand(3)
    with training.seeded(9):
        assert torch.equal(torch.rand(3), inside)  # and inside the block, the draws repeat


def test_checkpoint_round_trip(tmp_path):
    model = _tiny_model(seed=1)
    training.save_checkpoint(model, tmp_path / "m.pt", {"note": "hello"})
    fresh = _tiny_model(seed=2)
    meta = training.load_checkpoint(fresh, tmp_path / "m.pt")
    assert meta == {"note": "hello"}
    for a, b in zip(model.state_dict().values(), fresh.state_dict().values()):
        assert torch.equal(a, b)


def test_confusion_matrix_against_a_loop():
    logits = torch.randn(50, 4, generator=torch.Generator().manual_seed(0))
    labels = torch.randint(4, (50,), generator=torch.Generator().manual_seed(1))
    expected = torch.zeros(4, 4, dtype=torch.long)
    for t, p in zip(labels, logits.argmax(1)):
        expected[t, p] += 1
    assert torch.equal(training.confusion_matrix(logits, labels), expected)


def test_pick_device_and_bad_epochs():
    assert training.pick_device("cpu").type == "cpu"
    with pytest.raises(ValueError, match="epochs"):
        training.fit(_tiny_model(), _tiny_task()[0], epochs=0)


def test_zoo_trains_once_then_serves_from_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_UTILS_CACHE", str(tmp_path))
    monkeypatch.setitem(zoo.RECIPES, "tiny_shapes", zoo.Recipe(
        "small", "shapes", {"n": 200, "size": 16}, num_classes=4, image_size=16, epochs=1))
    calls = []
    real_fit = zoo.fit
    monkeypatch.setattr(zoo, "fit", lambda *a, **k: calls.append(1) or real_fit(*a, **k))
    first = zoo.pretrained("tiny_shapes", seed=3, progress=False)
    second = zoo.pretrained("tiny_shapes", seed=3, progress=False)
    assert len(calls) == 1 and zoo.checkpoint_path("tiny_shapes", 3).exists()
    for a, b in zip(first.state_dict().values(), second.state_dict().values()):
        assert torch.equal(a, b)
    assert len(zoo.training_history("tiny_shapes", 3).loss) == 1
    with pytest.raises(ValueError, match="mnist_small"):
        zoo.pretrained("no_such_model")


TWO_PROCESSES = """
import sys, time
from course_utils.cnn import zoo
zoo.RECIPES["tiny_shapes"] = zoo.Recipe("small", "shapes", {"n": 200, "size": 16},
                                       num_classes=4, image_size=16, epochs=1)
real_fit = zoo.fit
def slow_fit(*args, **kwargs):   # long enough for the other process to ask meanwhile
    print("trained", flush=True)
    time.sleep(2)
    return real_fit(*args, **kwargs)
zoo.fit = slow_fit
zoo.pretrained("tiny_shapes", seed=3, progress=False)
"""


def test_two_processes_asking_for_one_model_train_it_once(tmp_path):
    env = {**os.environ, "COURSE_UTILS_CACHE": str(tmp_path), "COURSE_UTILS_WEIGHTS_URL": "off"}
    runs = [subprocess.Popen([sys.executable, "-c", TWO_PROCESSES], env=env, text=True,
                             stdout=subprocess.PIPE) for _ in range(2)]
    printed = [run.communicate(timeout=120)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0]
    assert "".join(printed).count("trained") == 1, printed
    saved = [p.name for p in tmp_path.iterdir() if p.suffix == ".pt"]
    assert len(saved) == 1 and saved[0].startswith("tiny_shapes-seed3-"), saved


def test_torch_threads_sets_the_count_and_always_gives_it_back():
    before = torch.get_num_threads()
    with training.torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError, match="inside"):
        with training.torch_threads(1):
            raise RuntimeError("inside")
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match="count must be >= 1, got 0"):
        with training.torch_threads(0):
            pass


def test_zoo_weights_do_not_depend_on_the_callers_thread_count(tmp_path, monkeypatch):
    """Same recipe and seed, same weights, whether a notebook set one thread or a test left two."""
    monkeypatch.setitem(zoo.RECIPES, "tiny_shapes", zoo.Recipe(
        "small", "shapes", {"n": 200, "size": 16}, num_classes=4, image_size=16, epochs=1))
    threads_in_fit = []
    real_fit = zoo.fit
    monkeypatch.setattr(zoo, "fit", lambda *a, **k: threads_in_fit.append(torch.get_num_threads()) or real_fit(*a, **k))
    weights = []
    for threads in (2, 1):
        with training.torch_threads(threads):
            monkeypatch.setenv("COURSE_UTILS_CACHE", str(tmp_path / f"threads{threads}"))
            weights.append(zoo.pretrained("tiny_shapes", seed=3, progress=False).state_dict())
            assert torch.get_num_threads() == threads  # the caller's setting is given back
    assert threads_in_fit == [1, 1]
    for name in weights[0]:
        assert torch.equal(weights[0][name], weights[1][name]), name


def test_zoo_mnist_model_is_good():
    model = zoo.pretrained("mnist_small")
    _, test = zoo.zoo_data("mnist_small")
    assert training.evaluate(model, test)["accuracy"] > 0.9


def test_the_zoo_says_it_trains_in_lines_that_fit_a_page(tmp_path, monkeypatch, capsys):
    """A chapter that trains on first use prints this message in the book: lines of <= 88."""
    monkeypatch.setenv("COURSE_UTILS_CACHE", str(tmp_path))
    monkeypatch.setattr(zoo, "fit", lambda *a, **k: training.History())  # the message, not training
    monkeypatch.setattr(zoo, "save_checkpoint", lambda *a, **k: None)
    zoo._train(zoo.untrained("mnist_small_shuffled"), "mnist_small_shuffled", 0,
               zoo.checkpoint_path("mnist_small_shuffled"), progress=True)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "zoo: training 'mnist_small_shuffled' (seed 0) on first use, then cached in"
    assert lines[1] == f"  {tmp_path}" and all(len(line) <= 88 for line in lines)
