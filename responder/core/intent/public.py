"""Public English intent sets (``../shared/datasets``), mapped to the shop's intents.

banking77 (CC BY 4.0) and CLINC150 (CC BY 3.0) hold short, human-written queries to a bank
or a voice assistant. Some of their intents are the request a shop customer makes; this
module names which (:data:`MAPPING`) and turns those items into corpus-style records, so
the training script can learn from their *train* splits and ``benchmarks/intent_public.py``
can check on their *test* splits, which nothing here is fitted or tuned on.

CLINC150's out-of-scope queries and, for training only, a few of each of its unrelated
intents stand for ``other`` (mail that asks none of the shop's questions).
"""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from responder.core.corpus import Record

# set -> its intent -> the shop intent a support rep would file it under
MAPPING: dict[str, dict[str, str]] = {
    "banking77-en": {
        "request_refund": "refund_request",
        "Refund_not_showing_up": "refund_request",
        "card_arrival": "where_is_my_order",
        "card_delivery_estimate": "where_is_my_order",
        "transaction_charged_twice": "billing_or_charge_dispute",
        "card_payment_not_recognised": "billing_or_charge_dispute",
        "extra_charge_on_statement": "billing_or_charge_dispute",
        "passcode_forgotten": "login_or_password_trouble",
        "cancel_transfer": "cancel_order",
    },
    "clinc150-en": {
        "order_status": "where_is_my_order",
        "report_fraud": "billing_or_charge_dispute",
        "thank_you": "thanks_or_praise",
        "oos": "other",
    },
}

# for training only: this many queries of each unrelated CLINC150 intent become "other"
OTHER_PER_UNRELATED_INTENT = 8

# the licence of each set, kept with anything trained on it
LICENCES = {"banking77-en": "CC BY 4.0 (PolyAI-LDN/task-specific-datasets)",
            "clinc150-en": "CC BY 3.0 (clinc/oos-eval)"}


def records(datasets: Path, split: str) -> list[Record]:
    """The mapped items of ``split`` ("train" or "test") as corpus records
    (lang en, intent, empty subject, the query as body, ``source`` the set's name)."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be train or test, not {split!r}")
    out: list[Record] = []
    unrelated: dict[str, int] = defaultdict(int)
    for name, mapping in MAPPING.items():
        path = datasets / name / "data.jsonl"
        if not path.is_file():
            raise FileNotFoundError(f"{path}: not found (is ../shared beside the checkout?)")
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                item = json.loads(line)
                if item.get("split") != split:
                    continue
                label = item["label"]
                if label in mapping:
                    intent = mapping[label]
                elif (split == "train" and name == "clinc150-en"
                      and unrelated[label] < OTHER_PER_UNRELATED_INTENT):
                    unrelated[label] += 1
                    intent = "other"
                else:
                    continue
                out.append({"id": f"{name}-{len(out)}", "lang": "en",
                            "intent": intent, "subject": "", "body": item["text"],
                            "source": name, "split": split})
    return out
