"""Config: presets, resolution of method defaults, YAML round trip, validation messages."""
from __future__ import annotations

import dataclasses

import pytest

from scd_lab.config import (CHOICES, METHOD_DEFAULTS, PRESETS, Config, ConfigError,
                            MethodConfig, apply_overrides, from_dict, get_preset, load_yaml,
                            resolve, save_yaml, to_dict, validate)


# ------------------------------------------------------------------------------------------
# Presets, YAML round trip


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_is_valid(name):
    cfg = get_preset(name)
    assert cfg.preset == name
    validate(resolve(cfg))


def test_get_preset_returns_a_fresh_copy():
    a = get_preset("cpu")
    a.method.alpha = 0.123
    assert get_preset("cpu").method.alpha != 0.123


@pytest.mark.parametrize("name", list(PRESETS))
def test_yaml_round_trip(name, tmp_path):
    cfg = get_preset(name)
    path = tmp_path / "cfg.yaml"
    save_yaml(cfg, path)
    back = load_yaml(path)
    assert back == cfg
    assert isinstance(back.backbone.widths, tuple)  # YAML lists come back as tuples


@pytest.mark.parametrize("name", list(PRESETS))
def test_yaml_round_trip_of_resolved_config(name, tmp_path):
    cfg = resolve(get_preset(name))
    save_yaml(cfg, tmp_path / "r.yaml")
    assert load_yaml(tmp_path / "r.yaml") == cfg


def test_yaml_partial_on_top_of_base(tmp_path):
    path = tmp_path / "partial.yaml"
    path.write_text("method:\n  alpha: 0.5\ntrain:\n  epochs: 2\n")
    cfg = load_yaml(path, base=get_preset("cpu"))
    expected = get_preset("cpu")
    expected.method.alpha, expected.train.epochs = 0.5, 2
    assert cfg == expected


def test_to_dict_is_plain():
    d = to_dict(get_preset("cpu"))
    assert set(d) == {f.name for f in dataclasses.fields(Config)}
    assert d["backbone"]["widths"] == list(get_preset("cpu").backbone.widths)
    assert isinstance(d["backbone"]["widths"], list)


def test_overrides_parse_yaml_values():
    cfg = apply_overrides(get_preset("cpu"),
                          ["method.alpha=0.5", "method.fg_term=false",
                           "backbone.widths=[8, 16, 32, 64]", "train.max_steps=null",
                           "method.lam=1"])
    assert cfg.method.alpha == 0.5 and cfg.method.fg_term is False
    assert cfg.backbone.widths == (8, 16, 32, 64)
    assert cfg.train.max_steps is None
    assert cfg.method.lam == 1.0 and isinstance(cfg.method.lam, float)  # int -> float field


def test_apply_overrides_does_not_mutate_input():
    cfg = get_preset("cpu")
    apply_overrides(cfg, ["method.alpha=0.25"])
    assert cfg.method.alpha == 1.0


# ------------------------------------------------------------------------------------------
# resolve: METHOD_DEFAULTS


def _resolved(name):
    return resolve(Config(method=MethodConfig(name=name))).method


def test_resolve_byol_defaults():
    m = _resolved("byol")
    assert (m.proj_hidden, m.proj_dim, m.pred_hidden) == (4096, 256, 4096)
    assert m.symmetric is False
    assert (m.base_momentum, m.momentum_schedule) == (0.99, "cosine")


def test_resolve_scd_byol_uses_d512():
    m = _resolved("scd-byol")
    assert (m.proj_hidden, m.proj_dim) == (4096, 512)


@pytest.mark.parametrize("name", ["moco", "scd-moco"])
def test_resolve_moco_defaults(name):
    m = _resolved(name)
    assert (m.proj_hidden, m.proj_dim) == (2048, 128)
    assert (m.base_momentum, m.momentum_schedule) == (0.999, "constant")
    assert m.tau == 0.2


def test_resolve_fills_augment_and_keeps_explicit_values():
    cfg = Config(method=MethodConfig(name="moco", proj_dim=64))
    r = resolve(cfg)
    assert r.method.proj_dim == 64 and r.method.proj_hidden == 2048
    assert r.data.augment == "moco"
    assert cfg.method.proj_hidden is None  # the input is not modified


def test_resolve_leaves_no_none_method_default():
    for name in METHOD_DEFAULTS:
        m = _resolved(name)
        assert all(getattr(m, key) is not None for key in METHOD_DEFAULTS[name]), name


# ------------------------------------------------------------------------------------------
# Validation: each bad config is rejected with a message naming the key and the fix


BAD_OVERRIDES = [
    # (overrides, substrings the message must contain)
    (["model.arch=resnet18"], ["'model.arch'", "backbone", "method"]),  # unknown section
    (["method.alpah=0.5"], ["method.alpah", "did you mean 'alpha'"]),  # unknown key
    (["method.alpha=abc"], ["method.alpha", "expected float"]),  # wrong type
    (["train.epochs=1.5"], ["train.epochs", "expected int"]),  # wrong type
    (["method.name=simclr"], ["method.name", "'byol'", "'scd-moco'"]),  # bad choice
    (["backbone.arch=resnet34"], ["backbone.arch", "'resnet18'", "'resnet50'", "'resnet_tiny'"]),
    (["optim.optimizer=adam"], ["optim.optimizer", "'sgd'", "'lars'"]),
    (["optim.lr=-0.1"], ["optim.lr", "> 0"]),  # negative lr
    (["method.base_momentum=1.5"], ["method.base_momentum", "[0, 1]"]),  # momentum range
    (["optim.momentum=1.0"], ["optim.momentum", "[0, 1)"]),
    (["data.crop_size=96"], ["data.crop_size", "data.image_size"]),  # crop > image
    (["method.name=lewel-byol", "method.proj_dim=30"],
     ["method.proj_dim=30", "method.lewel_heads=4", "divisible"]),
    (["data.dataset=folder"], ["data.dataset='folder'", "data.root"]),
    (["method.fg_term=false", "method.bg_term=false"],
     ["method.fg_term", "method.bg_term", "method.lam"]),
    (["method.alpha 0.5"], ["method.alpha 0.5", "section.key=value"]),  # malformed override
    (["method.alpha=[1"], ["method.alpha", "cannot parse"]),
    (["method.lam=-1"], ["method.lam", ">= 0"]),
    (["backbone.strides=[1, 3, 2, 1]"], ["backbone.strides", "1 or 2"]),
]


@pytest.mark.parametrize("overrides,needles", BAD_OVERRIDES,
                         ids=[",".join(o) for o, _ in BAD_OVERRIDES])
def test_bad_override_rejected_with_clear_message(overrides, needles):
    with pytest.raises(ConfigError) as info:
        apply_overrides(get_preset("cpu"), overrides)
    msg = str(info.value)
    for needle in needles:
        assert needle in msg, f"{needle!r} not in {msg!r}"


def test_both_scd_terms_off_is_fine_with_lam_zero():
    cfg = apply_overrides(get_preset("cpu"), ["method.fg_term=false", "method.bg_term=false",
                                              "method.lam=0"])
    assert cfg.method.lam == 0


def test_unknown_section_in_dict():
    with pytest.raises(ConfigError, match=r"unknown config section 'optimizer'.*optim.*"
                                          r"did you mean 'optim'"):
        from_dict({"optimizer": {"lr": 0.1}})


def test_section_must_be_a_mapping():
    with pytest.raises(ConfigError, match="section 'method' must be a mapping"):
        from_dict({"method": 3})


def test_validate_catches_direct_attribute_assignment():
    cfg = get_preset("cpu")
    cfg.method.name = "simclr"
    with pytest.raises(ConfigError, match=r"method.name='simclr' is not allowed; choose one of"):
        validate(cfg)
    cfg = get_preset("cpu")
    cfg.method.symmetric = "yes"
    with pytest.raises(ConfigError, match=r"method.symmetric='yes' has type str; expected "
                                          r"bool or None"):
        validate(cfg)


def test_bool_is_not_an_int():
    with pytest.raises(ConfigError, match="train.epochs=True has type bool; expected int"):
        apply_overrides(get_preset("cpu"), ["train.epochs=true"])


def test_unknown_preset():
    with pytest.raises(ConfigError) as info:
        get_preset("cpuu")
    msg = str(info.value)
    assert "'cpuu'" in msg and "did you mean 'cpu'" in msg
    for name in PRESETS:
        assert name in msg


def test_resolve_checks_lewel_heads_against_default_proj_dim():
    # proj_dim left at None is filled with 256 by resolve; 256 % 3 != 0 must still be caught
    cfg = Config(method=MethodConfig(name="lewel-byol", lewel_heads=3))
    with pytest.raises(ConfigError, match="divisible"):
        resolve(cfg)


def test_yaml_missing_file(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match=r"nope\.yaml.*does not exist"):
        load_yaml(missing)


def test_yaml_invalid(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("method: {alpha: [1, 2\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml.*not valid YAML"):
        load_yaml(path)


def test_yaml_not_a_mapping(tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="must be a mapping of sections, got list"):
        load_yaml(path)


def test_yaml_unknown_key(tmp_path):
    path = tmp_path / "typo.yaml"
    path.write_text("optim:\n  weight_decy: 0.1\n")
    with pytest.raises(ConfigError, match=r"'optim.weight_decy'.*did you mean 'weight_decay'"):
        load_yaml(path)


def test_choices_cover_every_choice_field_default():
    cfg = Config()
    for path, allowed in CHOICES.items():
        section, key = path.split(".")
        assert getattr(getattr(cfg, section), key) in allowed, path


def test_each_name_is_written_once():
    import dataclasses

    from scd_lab.config import (AUGMENT_FOR, DATASETS, SYNTHETIC_KNOBS, DataConfig, base_method,
                                plugin)
    from scd_lab.data import DATASETS as DATA_DATASETS
    from scd_lab.data.synthetic import SyntheticSpec
    from scd_lab.methods import BASES, PLUGINS, available_methods, default_map_name

    data_fields = {f.name for f in dataclasses.fields(DataConfig)}
    spec_fields = {f.name for f in dataclasses.fields(SyntheticSpec)}
    assert set(SYNTHETIC_KNOBS) == (data_fields & spec_fields) - {"image_size", "seed"}
    assert DATA_DATASETS is DATASETS  # the data package looks the names up, never copies them
    for name in available_methods():  # every name is [plug-in-]base, each part registered
        assert base_method(name) in BASES and (plugin(name) is None or plugin(name) in PLUGINS)
        assert AUGMENT_FOR[name] == ("moco" if base_method(name) == "moco" else "byol")
    assert [default_map_name(n) for n in ("byol", "scd-moco", "lewel-byol")] == \
        ["channel_sum", "scd_fg", "lewel_maxvar"]
