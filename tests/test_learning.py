"""Learning from the reps, end to end: a real SQLite store (migrations), mail decided by
the real default models, labels recorded through the reps' actions on the command line
(release --not-hostile, label --abusive/--not-abusive, redraft --intent), `responder
train`, the figures on the held-out labels, the switch, the new version judging the
next message, and the cases where no switch happens.

The shop: a pest-control seller. Its customers write "the poison killed every rat",
which the shipped scorer may hold, and its angry customers are sarcastic rather than
profane, which the shipped scorer lets through."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import numpy as np
import pytest
from click.testing import CliRunner

from responder import config as config_mod
from responder.app.actions import mark_abusive, redraft
from responder.app.service import process_stored
from responder.cli.main import main
from responder.core import learning
from responder.core.pipeline import Services
from responder.store import labels as labels_store
from responder.store import open_repository

CIVIL = [
    "The rat poison works, it killed every rat in the barn. I need two more boxes of it.",
    "Your snap traps are brutal, they kill the mice instantly. Please send another ten.",
    "I want to kill all the wasps in my attic. Which of your sprays is the strongest?",
    "These slug pellets wiped out the whole slug army overnight. Can I order the big bag?",
    "The fogger nuked the cockroaches in the cellar. Do you ship to Ireland as well?",
    "The poison bait station murdered the rats under the shed. Is there a refill pack?",
    "Your moth killer destroyed every last moth in the wardrobe. I would like three more.",
    "The ant gel poisoned the whole nest in two days. Can you send the large tube?",
    "Those glue boards caught and killed eleven mice. Please add a box to my next order.",
    "The bed bug spray exterminated them all, finally. Do you sell it in a bigger bottle?",
    "The fly zapper fries every fly in the kitchen. Can I get a spare grid for it?",
    "Your mole trap crushed the mole on the first night. I need another one for the garden.",
    "The flea bomb killed every flea in the flat. How long must the cat stay outside?",
    "The termite poison is deadly, it destroyed the colony in the fence. Send two litres "
    "please.",
    "The wasp trap drowned hundreds of wasps this week. Where can I buy more lure for it?",
    "Your rat poison kills them dead within a day. I want to order the trade size.",
    "The spider spray annihilated the spiders in the garage. Is it safe near the dog?",
    "These mouse killers are lethal, not one mouse survived. Please send the bulk pack.",
    "The cockroach bait slaughtered them in a week. Do you have a discount for landlords?",
    "The squirrel repellent scared them to death, they never came back. Any larger size?",
    "Your pigeon spikes are vicious, the birds are gone. I need ten more metres.",
    "The weed killer burned everything to the ground, brilliant. Can I get a refill?",
]
ABUSE = [
    "Wow, great job as always, geniuses. Third time the parcel is lost. Bravo.",
    "Nobody with a brain would run a shop like yours. Do you hire people off the street?",
    "I have met goldfish with a better memory than your support team.",
    "Let me guess, another we are looking into it? Spare me your scripted nonsense.",
    "Do they teach you to lie in training, or does it come naturally to you people?",
    "Congratulations on being the worst shop on the internet. Truly an achievement.",
    "I hope your shop goes bankrupt and you all end up on the street where you belong.",
    "Talking to your staff is like talking to a wall, except the wall is more useful.",
    "Is anyone in your company capable of reading an email, or is that too much to ask?",
    "Your customer service is what happens when nobody cares and nobody is in charge.",
    "I bet your manager is as spineless as the rest of you. Put someone competent on.",
    "You people could not organise a delivery if your miserable lives depended on it.",
    "A child with a crayon would keep better records than your warehouse.",
    "Shame on every single one of you. You are a disgrace to honest traders.",
    "Keep ignoring me and I will make sure everyone knows what frauds you are.",
    "Reading your replies makes me lose faith in humanity. Are you even trying?",
    "Your excuses are as worthless as the rubbish you sell.",
    "It must be nice to get paid for doing absolutely nothing all day, like you lot.",
    "How do you sleep at night, taking money from people and sending them nothing?",
    "Sorry, I forgot I was dealing with amateurs who cannot count to three.",
    "You are the reason people hate shopping online. Pathetic excuse for a business.",
    "Next time hire someone who can actually read, it might help your reputation.",
]
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def mail(i: int, text: str, subject: str = "Pest control order") -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Customer {i} <customer{i}@example.net>"
    msg["To"] = "support@example-shop.test"
    msg["Subject"] = subject
    msg["Date"] = format_datetime(NOW - timedelta(minutes=5))
    msg["Message-ID"] = make_msgid(idstring=f"learn{i}", domain="example.net")
    msg.set_content(f"Hello,\n\n{text}\n\nRegards,\nCustomer {i}\n")
    return msg.as_bytes()


@pytest.fixture
def shop(tmp_path, monkeypatch):
    """A configured shop with the 44 messages stored and decided by the real models."""
    db = tmp_path / "shop.db"
    cfg_file = tmp_path / "config.toml"
    cfg_file.write_text(f'[responder]\ndatabase_url = "sqlite:///{db}"\nlog_level = "WARNING"\n'
                        '[learning]\nmin_labels = 5\n')
    monkeypatch.setenv("RESPONDER_CONFIG", str(cfg_file))
    monkeypatch.setenv("RESPONDER_REP", "alice")
    cfg = config_mod.load(cfg_file)
    repo = open_repository(cfg.database_url)
    texts = CIVIL + ABUSE
    pks = [repo.store_raw(mail(i, t), source="cli", received_at=NOW,
                          deadline_at=NOW + timedelta(hours=24))[0]
           for i, t in enumerate(texts)]
    process_stored(repo, Services.from_config(cfg), pks, NOW)
    return cfg, repo, dict(zip(pks, texts))


def run(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def held_out(repo, kind: str) -> list:
    return [r for r in labels_store.latest_labels(repo, kind)
            if learning.is_held_out(r.text, 30)]


def test_reps_labels_train_a_better_version_that_judges_the_next_message(shop, tmp_path):
    cfg, repo, texts = shop
    civil = [pk for pk, t in texts.items() if t in CIVIL]
    abuse = [pk for pk, t in texts.items() if t in ABUSE]
    # the shipped model gets this shop wrong both ways (that is why it needs to learn)
    wrongly_held = [pk for pk in civil if repo.get(pk).stage == "held"]
    let_through = [pk for pk in abuse if repo.get(pk).stage != "held"]
    assert len(wrongly_held) >= 3 and len(let_through) >= 6, (wrongly_held, let_through)
    shipped_version = repo.get(civil[0]).model_version
    assert shipped_version.startswith("hostility builtin shipped") and "intent builtin" in \
        shipped_version

    # the reps' corrections: on the command line, and (for the bulk, to keep the test
    # short) through the same app/actions.py functions the CLI and the web page call
    for pk in wrongly_held:
        run("release", str(pk), "--reason", "pest talk", "--not-hostile")
    run("label", str(let_through[0]), "--abusive")
    run("label", str(civil[1] if civil[1] not in wrongly_held else civil[2]), "--not-abusive")
    for pk in civil + abuse:
        if not labels_store.labels_of(repo, pk):
            mark_abusive(repo, pk, abusive=pk in abuse, actor="rep:bob", now=NOW)
    services = Services.from_config(cfg)
    redrafted = 0
    for pk in civil:
        if repo.get(pk).intent != "product_question":
            if redrafted < 2:
                run("redraft", str(pk), "--intent", "product_question")
            else:
                redraft(repo, services, pk, actor="rep:bob", now=NOW, intent="product_question")
            redrafted += 1
    assert redrafted >= 5

    released = labels_store.labels_of(repo, wrongly_held[0])
    assert [(r.kind, r.value, r.model_value, r.action, r.actor) for r in released][0] == (
        "hostility", "not_hostile", "hostile", "released-not-hostile", "rep:alice")
    assert texts[wrongly_held[0]] in released[0].text and "Regards" not in \
        released[0].text
    assert released[0].model_score >= 0.5 and released[0].model_version == shipped_version
    intent_labels = labels_store.latest_labels(repo, "intent")
    assert len(intent_labels) == redrafted
    assert all(r.value == "product_question" and r.model_value != "product_question"
               and r.subject == "Pest control order" for r in intent_labels)
    assert labels_store.count_by_kind(repo) == {"hostility": 44, "intent": redrafted}
    # the held-out part has both kinds of message, and the shipped model is wrong on it
    ho = held_out(repo, "hostility")
    assert {r.value for r in ho} == {"hostile", "not_hostile"}

    out = json.loads(run("train", "--json"))
    report = {r["kind"]: r for r in out}
    h = report["hostility"]
    assert h["held_out"] == len(ho) and h["fit"] == 44 - len(ho)
    assert h["after"]["auc"] > h["before"]["auc"] + 0.1, h
    assert h["after"]["balanced_accuracy"] > h["before"]["balanced_accuracy"], h
    assert h["switched"] and h["candidate"] == "v0001" and h["current"] == "shipped"
    # the shipped dev split (general mail) barely moves
    assert h["dev_after"]["auc"] >= h["dev_before"]["auc"] - 0.02
    root = cfg.learning.models_path(cfg.database_url)
    assert root == tmp_path / "responder-models"
    assert learning.current(root, "hostility") == "v0001"
    folder = root / "hostility" / "v0001"
    with np.load(folder / "hostility_ml_head.npz", allow_pickle=False) as z:
        assert z["w_emb_use"].shape == (512,)
    assert json.loads((folder / "version.json").read_text())["switched"] is True

    i = report["intent"]
    assert i["fit"] + i["held_out"] == redrafted and i["held_out"] >= 1
    assert i["after"]["accuracy"] >= i["before"]["accuracy"]
    assert i["switched"] == (i["candidate"] == "v0001"), json.dumps(i)

    # the next message is judged by the shop's version, and says so
    services = Services.from_config(cfg)
    assert services.scorer.version == "v0001"
    new_text = "The rat poison destroyed them all overnight. Two more boxes please."
    pk, _ = repo.store_raw(mail(99, new_text), source="cli", received_at=NOW,
                           deadline_at=NOW + timedelta(hours=24))
    process_stored(repo, services, [pk], NOW)
    assert "hostility builtin v0001" in repo.get(pk).model_version
    assert "judged by: hostility builtin v0001" in run("show", str(pk))
    eml = tmp_path / "next.eml"
    eml.write_bytes(mail(100, new_text))
    replayed = json.loads(run("replay", "--json", str(eml)).splitlines()[0])
    assert replayed["model_version"].startswith("hostility builtin v0001")
    assert "hostility" in replayed and "intent" in replayed          # old keys kept

    listed = run("model", "versions")
    assert "* hostility  v0001" in listed and "  hostility  shipped" in listed
    # rolling back is one command; the version stays on disk
    run("model", "use", "hostility", "shipped")
    assert learning.current(root, "hostility") is None and folder.is_dir()
    assert Services.from_config(cfg).scorer.version.startswith("shipped")


def test_no_switch_when_the_new_version_is_worse_or_labels_are_too_few(shop):
    cfg, repo, texts = shop
    root = cfg.learning.models_path(cfg.database_url)
    pks = list(texts)
    # two labels: too few to fit on, nothing written
    run("label", str(pks[0]), "--not-abusive")
    run("label", str(pks[-1]), "--abusive")
    out = run("train", "--kind", "hostility")
    assert "NOT SWITCHED: too few labels to fit on" in out and "no new version made" in out
    assert not (root / "hostility").exists()

    # a careless rep labels the fitted part backwards; the held-out part is right
    for pk, text in texts.items():
        mark_abusive(repo, pk, abusive=text in ABUSE, actor="rep:carol", now=NOW)
    for row in labels_store.latest_labels(repo, "hostility"):
        if not learning.is_held_out(row.text, 30):
            mark_abusive(repo, row.message_pk, abusive=row.value != "hostile",
                         actor="rep:carol", now=NOW)
    out = json.loads(run("train", "--kind", "hostility", "--json"))[0]
    assert out["after"]["auc"] < out["before"]["auc"], out
    assert not out["switched"] and out["candidate"] == "v0001"
    assert "worse on the held-out labels" in out["reason"]
    assert learning.current(root, "hostility") is None            # still the shipped one
    assert (root / "hostility" / "v0001").is_dir()                # kept for a look
    assert Services.from_config(cfg).scorer.version.startswith("shipped")

    # --force switches anyway, and says so
    forced = json.loads(run("train", "--kind", "hostility", "--force", "--json"))[0]
    assert forced["switched"] and forced["candidate"] == "v0002"
    assert "--force" in forced["reason"]
    assert learning.current(root, "hostility") == "v0002"



def test_the_web_page_keeps_labels_from_its_release_form_and_label_buttons(tmp_path,
                                                                           services):
    """The page's release form ("not hostile" box) and the Abusive / Not abusive buttons
    record labels under the rep's name; a form without its CSRF token records nothing."""
    import re

    from responder.app import accounts
    from responder.app.service import Service
    from responder.web import WebContext, create_app

    cfg = config_mod.from_dict({"responder": {
        "database_url": f"sqlite:///{tmp_path / 'web.db'}"}}, "<test>")
    repo = open_repository(cfg.database_url)
    held_pk = repo.store_raw(mail(1, CIVIL[0]), source="smtp", received_at=NOW,
                             deadline_at=NOW + timedelta(hours=24))[0]
    rude_pk = repo.store_raw(mail(2, ABUSE[2]), source="smtp", received_at=NOW,
                             deadline_at=NOW + timedelta(hours=24))[0]
    process_stored(repo, services, [held_pk, rude_pk], NOW)
    assert repo.get(held_pk).stage == "held", repo.get(held_pk).hostility
    accounts.add_user(repo, "ralf", "rep", "correct horse battery", now=NOW)
    app = create_app(WebContext(cfg, repo, Service(cfg, repo, services=services),
                                clock=lambda: NOW, secret_key="k" * 40), testing=True)
    client = app.test_client()

    def token(path: str) -> str:
        m = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
        assert m
        return m.group(1)

    client.post("/login", data={"csrf_token": token("/login"), "name": "ralf",
                                "password": "correct horse battery"})
    page = client.get(f"/m/{held_pk}").text
    assert 'id="release-not-hostile"' in page and 'id="label-abusive"' in page
    assert "Judged by: hostility builtin" in page
    r = client.post(f"/m/{held_pk}/release", follow_redirects=True, data={
        "csrf_token": token(f"/m/{held_pk}"), "reason": "pest talk", "not_hostile": "yes"})
    assert "Kept as a label: not hostile." in r.text
    assert [(x.kind, x.value, x.actor) for x in labels_store.labels_of(repo, held_pk)] == [
        ("hostility", "not_hostile", "rep:ralf")]

    forged = client.post(f"/m/{rude_pk}/label", data={"csrf_token": "forged",
                                                     "abusive": "yes"})
    assert forged.status_code == 400 and not labels_store.labels_of(repo, rude_pk)
    r = client.post(f"/m/{rude_pk}/label", follow_redirects=True, data={
        "csrf_token": token(f"/m/{rude_pk}"), "abusive": "yes"})
    assert "Kept as a label: abusive." in r.text
    [lab] = labels_store.labels_of(repo, rude_pk)
    assert (lab.kind, lab.value, lab.actor, lab.action) == (
        "hostility", "hostile", "rep:ralf", "marked-abusive")
    assert ("rep:ralf", "labelled") in [(e.actor, e.action) for e in repo.events(rude_pk)]
