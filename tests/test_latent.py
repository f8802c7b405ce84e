import math

import pytest
import torch

from encdec import ModelConfig, arithmetic, build, latent, metrics
from encdec.urlstate import LinkError, Start, code_from_text, code_to_text, parse_bounded_int, parse_link, parse_start


@pytest.fixture(scope="module")
def ae():
    torch.manual_seed(0)
    return build(ModelConfig(kind="autoencoder", encoder="mlp", decoder="mlp", code_dim=4)).eval()


def test_slider_ranges_are_percentiles_and_never_empty():
    codes = torch.stack([torch.arange(101.0), torch.full((101,), 3.0)], dim=1)  # dim 1 is constant
    r = latent.code_ranges(codes)
    assert r.low[0] == pytest.approx(1.0) and r.high[0] == pytest.approx(99.0)
    assert r.low[1] < 3.0 < r.high[1]


def test_traversal_sweeps_only_its_own_dimension_around_the_code(ae):
    code = torch.tensor([0.1, -0.2, 0.3, 0.0])
    ranges = latent.code_ranges(torch.randn(500, 4))
    grid = latent.traversal(ae, code, ranges, dims=[2, 0], steps=5)
    assert grid.shape == (2, 5, 28, 28)
    expected = code.repeat(5, 1)
    expected[:, 0] = code[0] + (ranges.high[0] - ranges.low[0]) * torch.tensor([-0.5, -0.25, 0, 0.25, 0.5])
    assert torch.allclose(grid[1], latent.decode(ae, expected), atol=1e-6)
    assert torch.allclose(grid[:, 2], latent.decode(ae, code).expand(2, 28, 28), atol=1e-6)  # the middle is the code


def test_dimensions_are_ranked_by_their_effect_on_the_output(ae):
    model = build(ae.config).eval()
    model.load_state_dict(ae.state_dict())
    first = model.decoder.net[0]
    with torch.no_grad():
        first.weight[:, 1] = 0        # dimension 1 cannot change anything
        first.weight[:, 3] *= 20      # dimension 3 changes a lot
    ranges = latent.code_ranges(torch.randn(500, 4))
    order, effect = latent.rank_dimensions(model, torch.zeros(4), ranges)
    assert order[0] == 3 and order[-1] == 1
    assert effect[1] < 1e-6 and effect[3] > effect[0]


def test_a_classifiers_decoder_gives_class_probabilities():
    clf = build(ModelConfig(kind="classifier", encoder="mlp", code_dim=3)).eval()
    z = torch.randn(2, 3)
    p = latent.class_probabilities(clf, z)
    assert p.shape == (2, 10) and torch.allclose(p.sum(1), torch.ones(2))
    assert torch.equal(latent.decoder_output(clf, z), p)
    assert torch.allclose(p, torch.softmax(latent.logits(clf, z), 1))


def test_decode_of_edited_code_changes_the_image(ae):
    z = torch.zeros(4)
    edited = z.clone()
    edited[0] = 3.0
    assert not torch.allclose(latent.decode(ae, z), latent.decode(ae, edited))


def test_linear_interpolation_runs_from_a_to_b():
    a, b = torch.tensor([0.0, 2.0]), torch.tensor([4.0, -2.0])
    path = latent.interpolate(a, b, 5)
    assert torch.equal(path[0], a) and torch.equal(path[-1], b)
    assert torch.allclose(path[2], (a + b) / 2)
    with pytest.raises(ValueError):
        latent.interpolate(a, b, 1)
    with pytest.raises(ValueError):
        latent.interpolate(a, b, 3, "cubic")


def test_spherical_interpolation_keeps_the_norm_between_equal_norm_codes():
    a, b = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    path = latent.interpolate(a, b, 7, "slerp")
    assert torch.allclose(path.norm(dim=1), torch.ones(7), atol=1e-6)
    assert torch.allclose(path[0], a, atol=1e-6) and torch.allclose(path[-1], b, atol=1e-6)
    assert torch.allclose(path[3], torch.tensor([math.sqrt(0.5)] * 2), atol=1e-6)
    same = latent.interpolate(a, a * 2, 3, "slerp")  # parallel codes fall back to a straight line
    assert torch.allclose(same[1], a * 1.5)


def test_code_arithmetic_is_a_minus_b_plus_c():
    a, b, c = torch.tensor([3.0, 1.0]), torch.tensor([1.0, 1.0]), torch.tensor([0.0, 5.0])
    assert torch.equal(arithmetic.arithmetic(a, b, c), torch.tensor([2.0, 5.0]))


def _line(shear: float) -> torch.Tensor:
    img = torch.zeros(28, 28)
    for r in range(4, 24):
        img[r, int(round(14 - shear * (r - 14)))] = 1.0
    return img


def test_slant_measures_lean():
    s = arithmetic.slant(torch.stack([_line(0.0), _line(0.5), _line(-0.5)]))
    assert abs(s[0]) < 0.05 and s[1] == pytest.approx(0.5, abs=0.05) and s[2] == pytest.approx(-0.5, abs=0.05)


def test_arithmetic_example_picks_slanted_and_upright_digits(mnist):
    a, b, c = arithmetic.arithmetic_example(mnist.test.labels, mnist.test.images)
    assert mnist.test.labels[a] == 7 and mnist.test.labels[b] == 7 and mnist.test.labels[c] == 1
    s = arithmetic.slant(mnist.test.images[[a, b, c]])
    assert s[0] > 0.4 and abs(s[1]) < 0.05 and abs(s[2]) < 0.05


def test_code_round_trips_through_the_url():
    z = torch.tensor([0.1234, -5.0, 0.0, 12.5])
    text = code_to_text(z)
    assert text == "0.123,-5,0,12.5"
    assert torch.allclose(code_from_text(text, 4), z, atol=1e-3)


@pytest.mark.parametrize("text,key", [("1,2,3", "code_count"), ("1,2,x,4", "code_nan"), ("1,2,nan,4", "code_range"),
                                      ("1,2,1e9,4", "code_range"), ("1," * 5000, "code_long")])
def test_bad_code_in_the_url_is_explained(text, key):
    with pytest.raises(LinkError) as e:
        code_from_text(text, 4)
    assert e.value.key == key


def test_start_parses_from_the_url():
    assert parse_start(None, 10) == Start("test", 0)
    assert parse_start("test-7", 10) == Start("test", 7) and Start("test", 7).to_param() == "test-7"
    assert parse_start("mean", 10) == Start("mean") and parse_start("zeros", 10).to_param() == "zeros"
    with pytest.raises(LinkError) as e:
        parse_start("test-10", 10)
    assert e.value.key == "start_range" and e.value.values == {"index": 10, "n": 10, "last": 9}
    with pytest.raises(LinkError) as e:
        parse_start("../../etc", 10)
    assert e.value.key == "bad_start"


def test_bounded_integers_from_the_url():
    assert parse_bounded_int(None, 2, 64, "code size") is None
    assert parse_bounded_int("16", 2, 64, "code size") == 16
    with pytest.raises(LinkError) as e:
        parse_bounded_int("1000", 2, 64, "code size")
    assert e.value.key == "out_of_range" and e.value.values["value"] == 1000
    with pytest.raises(LinkError) as e:
        parse_bounded_int("lots", 1, 200, "epoch count")
    assert e.value.key == "not_whole"


def test_a_link_starting_from_a_code_needs_the_code():
    start, z = parse_link("code", "1,2", 2, 10)
    assert start == Start("code") and torch.equal(z, torch.tensor([1.0, 2.0]))
    assert parse_link(None, None, 2, 10) == (Start("test", 0), None)
    with pytest.raises(LinkError) as e:
        parse_link("code", None, 2, 10)
    assert e.value.key == "code_missing"


def test_confusion_matrix_accuracy_and_the_most_frequent_mistake():
    labels = torch.tensor([0, 0, 1, 1, 1, 2, 2, 2, 2])
    predicted = torch.tensor([0, 1, 1, 2, 2, 2, 2, 0, 2])
    m = metrics.confusion_matrix(labels, predicted, classes=3)
    assert m.tolist() == [[1, 1, 0], [0, 1, 2], [1, 0, 3]]
    assert metrics.accuracy(m) == pytest.approx(5 / 9)
    assert metrics.most_confused(m) == (1, 2)


def test_reconstruction_errors_are_per_image_mse(ae, mnist):
    split = mnist.test.head(50)
    codes = latent.encode_split(ae, split)
    errors = metrics.reconstruction_errors(ae, split, codes, batch_size=16)
    expected = ((latent.decode(ae, codes) - split.floats()[:, 0]) ** 2).mean((1, 2))
    assert errors.shape == (50,) and torch.allclose(torch.from_numpy(errors), expected, atol=1e-6)


@pytest.mark.parametrize("sent", [None, "1,2", {"code": [1, 2]}, {"code": [1, 2, "3"]}, {"code": [1, 2, True]},
                                  {"code": [1, 2, float("nan")]}, {"code": [1, 2, 1e5]}, {"code": {"a": 1}},
                                  {"code": [1, 2, 10 ** 400]}, {"code": [1, 2, -(10 ** 400)]}])
def test_a_code_a_page_sends_is_taken_only_as_k_plain_finite_numbers(sent):
    assert latent.code_from_page(sent, 3) is None


def test_a_code_a_page_sends_comes_back_as_a_tensor():
    assert latent.code_from_page({"code": [1, -2.5, 0]}, 3).tolist() == [1.0, -2.5, 0.0]
