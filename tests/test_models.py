import itertools

import pytest
import torch

import encdec
from encdec import ConfigError, ModelConfig, build

IMAGE_DECODERS = ("mlp", "lstm", "deconv")


@pytest.mark.parametrize("kind,encoder,decoder", [
    *[("autoencoder", e, d) for e, d in itertools.product(encdec.ENCODERS, IMAGE_DECODERS)],
    *[("vae", e, d) for e, d in itertools.product(encdec.ENCODERS, IMAGE_DECODERS)],
    *[("classifier", e, None) for e in encdec.ENCODERS],
])
def test_every_encoder_pairs_with_every_decoder(kind, encoder, decoder):
    torch.manual_seed(0)
    model = build(ModelConfig(kind=kind, encoder=encoder, decoder=decoder, code_dim=5)).eval()
    x = torch.rand(3, 1, 28, 28)
    z = model.encode(x)
    assert z.shape == (3, 5)
    if kind == "classifier":
        assert model.classify(x).shape == (3, 10)
        assert model.head(z).shape == (3, 10)
        with pytest.raises(TypeError):
            model.decode(z)
    else:
        x_hat = model.decode(z)
        assert x_hat.shape == (3, 1, 28, 28)
        assert x_hat.min() >= 0 and x_hat.max() <= 1


def test_vae_encode_returns_the_mean_not_a_sample_even_while_training():
    torch.manual_seed(0)
    model = build(ModelConfig(kind="vae", encoder="mlp", decoder="mlp", code_dim=4)).train()
    x = torch.rand(2, 1, 28, 28)
    # training samples a code around the mean: two passes decode different codes ...
    assert not torch.equal(model(x)["recon_logits"], model(x)["recon_logits"])
    # ... but the code a page shows is always the mean
    assert torch.equal(model.encode(x), model.encode(x))
    assert torch.equal(model.encode(x), model.encoder(x)[:, :4])
    assert torch.equal(model(x)["code"], model.encode(x))


def test_dropout_changes_outputs_while_training_and_never_after():
    torch.manual_seed(0)
    model = build(ModelConfig(kind="classifier", encoder="mlp", code_dim=8, dropout=0.5))
    x = torch.rand(4, 1, 28, 28)
    model.train()
    assert not torch.equal(model.classify(x), model.classify(x))
    model.eval()
    assert torch.equal(model.classify(x), model.classify(x))
    plain = build(ModelConfig(kind="classifier", encoder="mlp", code_dim=8)).train()
    assert torch.equal(plain.classify(x), plain.classify(x))  # no dropout asked: training changes nothing either


@pytest.mark.parametrize("bad", [1, 65, 0, -3, 2.5, "16", True])
def test_code_size_outside_2_to_64_is_refused_clearly(bad):
    with pytest.raises(ConfigError, match="Code size must be a whole number from 2 to 64"):
        ModelConfig(code_dim=bad)


def test_code_size_limits_are_allowed():
    assert build(ModelConfig(code_dim=2)).encode(torch.rand(1, 1, 28, 28)).shape == (1, 2)
    assert build(ModelConfig(code_dim=64)).encode(torch.rand(1, 1, 28, 28)).shape == (1, 64)


@pytest.mark.parametrize("kw,msg", [
    (dict(kind="gan"), "Unknown model kind"),
    (dict(encoder="transformer"), "Unknown encoder"),
    (dict(decoder="linear"), "Unknown decoder"),
    (dict(kind="classifier", decoder="mlp"), "linear head"),
    (dict(dropout=1.5), "Dropout"),
    (dict(dataset="cifar"), "Unknown dataset"),
])
def test_bad_settings_name_the_setting(kw, msg):
    with pytest.raises(ConfigError, match=msg):
        ModelConfig(**kw)


def test_config_round_trips_through_a_dict_and_rejects_unknown_keys():
    c = ModelConfig(kind="classifier", encoder="cnn", code_dim=9)
    assert ModelConfig.from_dict(c.to_dict()) == c
    with pytest.raises(ConfigError, match="Unknown model settings: colour"):
        ModelConfig.from_dict({**c.to_dict(), "colour": "red"})
