"""rmbias.models.families: the one place that names base-model families."""

import pytest

from rmbias.io import InputError
from rmbias.models.families import FAMILY_LABELS, family_label, family_of_published_rm


@pytest.mark.parametrize(("family", "label"), [("gemma", "Gemma"), ("llama", "Llama"), ("qwen", "Qwen"), ("mistral", "Mistral")])
def test_family_label_capitalises_the_config_key(family, label):
    assert family_label(family) == label


def test_published_rm_names_map_to_the_same_labels_as_config_keys():
    assert FAMILY_LABELS == ("Gemma", "Llama", "Qwen")
    assert family_of_published_rm("Skywork-Reward-Gemma-2-27B") == family_label("gemma")
    assert family_of_published_rm("LxzGordon_URM-LLaMa-3.1-8B") == family_label("llama")
    assert family_of_published_rm("Qwen2.5-3B-Instruct") == family_label("qwen")
    with pytest.raises(InputError, match="mistral-7b"):
        family_of_published_rm("mistral-7b")
    with pytest.raises(InputError, match="gemma-llama-merge"):
        family_of_published_rm("gemma-llama-merge")
