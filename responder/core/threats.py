"""Threats to the shop's reputation in a customer's own words: a bad review, a
chargeback or payment dispute, a lawyer or court, a consumer authority or the
police, social media or the press.

Pure functions over text. The owner sees what is found (``responder customers``, the
web page's Customers view, the replay report); nothing is decided by it: a threat
never holds, drafts or refuses anything (DESIGN.md section 2, practices 6 and 7).

Cue entries are written per reply language (``core/languages.py``) in the syntax of
the intent cue words (``core/intent/keywords.py``), compared after
``core.text.fold`` (lower case, no accents)::

    word          the whole word only
    stem*         any word starting with stem
    *part*        any word containing part
    two words     consecutive words
    a ... b       a, then b within a few words

A cue found in a clause is cancelled when

* a negation of its language stands just before it or just after it in the same
  clause ("no need for a lawyer", "Anwalt brauche ich nicht"), unless a condition
  comes first ("if you don't refund me I will sue") or the negation is of hesitating
  ("I won't hesitate to sue");
* it overlaps a ``SAFE`` phrase ("I left a good review", "five stars");
* for reviews and social media only: the clause praises the shop ("I'll tell all my
  friends how wonderful you are").

The customer's words are read with ``core.parsing.quotes.strip_quotes`` first, so
quoted mail (ours or anyone's) never counts as the customer's threat. When the
language is unknown (short or mixed mail), every language's cues are tried.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache

from responder.core.languages import LANGUAGES
from responder.core.model import THREAT_KINDS, ReputationThreat
from responder.core.parsing.quotes import strip_quotes
from responder.core.text import fold, tokens

__all__ = ["CUES", "THREAT_KINDS", "KIND_TITLES", "find_threats", "kinds"]

#: how the kinds read for people (CLI, web page, report)
KIND_TITLES: dict[str, str] = {
    "bad_review": "bad review",
    "chargeback": "chargeback or payment dispute",
    "lawyer": "lawyer or court",
    "authority": "consumer authority or police",
    "social_media": "social media or press",
}

#: the most words a "..." in a cue may skip
MAX_GAP = 4
#: how far before / after a cue a negation cancels it (in words)
NEG_BEFORE = 4
NEG_AFTER = 3


def _each(verbs: str, targets: str) -> str:
    """Every "verb ... target" pair as cue entries (a verb, then the target a few words on)."""
    return ", ".join(f"{v.strip()} ... {t.strip()}"
                     for v in verbs.split(",") for t in targets.split(","))


_PLATFORMS = ("facebook*, twitter, instagram, tiktok, reddit, youtube, linkedin, telegram, "
              "vk, vkontakte")

CUES: dict[str, dict[str, str]] = {
    "en": {
        "bad_review": "bad review*, negative review*, terrible review*, awful review*, "
                      "horrible review*, scathing review*, honest review*, poor review*, "
                      "1 star*, one star*, zero star*, 0 star*, review* ... everywhere, "
                      "reviews all over, rate you ... one star, review* warning, "
                      + _each("leave, leaving, write, writing, post, posting, put, review you",
                              "trustpilot, yelp, google review*, tripadvisor, feefo, "
                              "review site*, amazon review*"),
        "chargeback": "chargeback*, charge back, dispute ... charge*, dispute ... payment*, "
                      "dispute ... transaction*, dispute with ... bank, paypal ... dispute, "
                      "paypal ... claim, open* ... dispute, fil* ... dispute, "
                      "fil* ... claim with, reverse the charge*, reverse this charge*, "
                      "reverse ... payment*, dispute ... my bank, to my bank, "
                      "call my bank, contact* my bank, tell my bank, ask my bank, "
                      "through my bank, my bank will, credit card company, card issuer, "
                      "stop the payment",
        "lawyer": "lawyer*, attorney*, solicitor*, legal action, legal steps, "
                  "legal proceedings, take ... legal, sue you, sue your, sue the, sue this, "
                  "ll sue, will sue, to sue, suing, lawsuit*, court, courts, small claims, "
                  "letter before action",
        "authority": "trading standards, consumer protection, consumer rights agency, "
                     "consumer agency, consumer ombudsman, ombudsman, ftc, attorney general, "
                     "better business bureau, bbb, police, report you, reporting you, "
                     "report ... to the authorities, the authorities, citizens advice",
        "social_media": _each("post*, share*, put, write, tell, expose*, shout",
                              _PLATFORMS + ", social media")
                        + ", all over social media, all over facebook, all over the internet, "
                          "tell everyone, tell ... everyone, tell all my friends, "
                          "tell ... friends, warn everyone, warn* ... others, warn* other*, "
                          "go public, the press, journalist*, newspaper*, local news, "
                          "expose you, everyone will know, everyone know*, sure everyone",
    },
    "fr": {
        "bad_review": "mauvais avis, avis negatif*, avis ... negatif*, une etoile, 1 etoile, "
                      "zero etoile, avis ... partout, "
                      + _each("laisser, laisserai, mettre, mettrai, ecrire, ecrirai, publier, "
                              "publierai, noter",
                              "avis, trustpilot, avis verifies, google"),
        "chargeback": "chargeback*, faire opposition, ferai opposition, opposition ... carte, "
                      "contestation de paiement, contester ... paiement, contester ... "
                      "prelevement, contester ... transaction, contesterai ... paiement, "
                      "ouvrir ... litige, ouvrirai ... litige, litige paypal, paypal ... litige, "
                      "contacter ma banque, contacterai ma banque, appeler ma banque, "
                      "appellerai ma banque, prevenir ma banque, voir avec ma banque, "
                      "par ma banque, ma banque va",
        "lawyer": "avocat*, action en justice, en justice, poursuites judiciaires, "
                  "poursuivre ... justice, tribunal, tribunaux, proces, mise en demeure, "
                  "huissier*, saisir la justice, juridique*",
        "authority": "dgccrf, repression des fraudes, association de consommateurs, "
                     "que choisir, 60 millions de consommateurs, mediateur, signalconso, "
                     "signal conso, police, gendarmerie, porter plainte, porterai plainte, "
                     "deposer plainte, deposerai plainte, protection des consommateurs",
        "social_media": _each("publier, publierai, poster, posterai, partager, partagerai, "
                              "raconter, raconterai, mettre, mettrai",
                              _PLATFORMS + ", reseaux sociaux")
                        + ", sur les reseaux sociaux, dire a tout le monde, tout le monde saura, "
                          "prevenir tout le monde, avertir ... autres, mettre en garde, "
                          "la presse, journaliste*, les medias, faire savoir, "
                          "faire ... de la publicite",
    },
    "de": {
        "bad_review": "schlechte* ... bewertung*, negative* ... bewertung*, "
                      "schlechte* ... rezension*, negative* ... rezension*, "
                      "bewertung* ... schreiben, bewertung* ... abgeben, "
                      "bewertung* ... hinterlassen, ein stern, einen stern, 1 stern, "
                      "null sterne, google ... bewertung*, bewerte* ... einem stern, "
                      "entsprechende* bewertung*, schreibe* ... bewertung*, trusted shops, "
                      + _each("schreibe*, poste*, hinterlasse*, bewerte*",
                              "trustpilot, trusted shops, google, amazon"),
        "chargeback": "ruckbuchung*, ruckbelastung*, chargeback*, lastschrift ... zuruck*, "
                      "zuruckbuchen, zuruckholen, widerspruch ... bank, "
                      "widerspruch ... lastschrift, paypal* ... konflikt, paypal* ... fall, "
                      "kauferschutz, meine bank ... einschalten, meine bank ... kontaktieren, "
                      "meine bank ... informieren, an meine bank, zur bank, zu meiner bank, "
                      "widersprech* ... lastschrift*, meine bank weiss bescheid, "
                      "kreditkartenfirma, "
                      "kreditkarteninstitut",
        "lawyer": "anwalt*, anwaltin*, rechtsanwalt*, rechtsanwaltin*, rechtliche* schritte*, "
                  "rechtlichen schritten, gericht*, verklagen, verklage, klage*, "
                  "mahnverfahren, juristisch*, abmahnung*, inkasso",
        "authority": "verbraucherzentrale*, verbraucherschutz*, schlichtungsstelle*, polizei, "
                     "anzeige ... erstatten, strafanzeige, behorde*, gewerbeaufsicht, "
                     "ordnungsamt, bundesnetzagentur",
        "social_media": _each("poste*, posten, teile*, veroffentliche*, schreibe*, stelle*",
                              _PLATFORMS + ", soziale* medien, sozialen netzwerk*")
                        + ", in den sozialen medien, allen erzahlen, alle warnen, "
                          "andere ... warnen, offentlich machen, presse, zeitung, "
                          "journalist*, allen bescheid",
    },
    "es": {
        "bad_review": "mala* ... resena*, resena* negativa*, mala* ... opinion*, "
                      "opinion* negativa*, mala* ... valoracion*, valoracion* negativa*, "
                      "una estrella, 1 estrella, cero estrellas, "
                      + _each("dejar*, dejare, dejo, escribir*, escribire, poner, pondre, "
                              "publicar*, publicare",
                              "resena*, trustpilot, google, opinion*, valoracion*"),
        "chargeback": "contracargo*, devolucion de cargo, disputa*, reclamacion ... banco, "
                      "reclamar ... banco, paypal ... disputa, paypal ... reclamacion, "
                      "anular ... cargo, anular ... pago, abrir ... disputa, "
                      "llamar* a mi banco, llamare a mi banco, contactar* ... mi banco, "
                      "contactare ... banco, hablar* con mi banco, hablare con mi banco, "
                      "avisar* a mi banco, a traves de mi banco",
        "lawyer": "abogad*, accion* legal*, medidas legales, via judicial, juzgado*, "
                  "tribunal*, demandar*, demandare, demanda judicial, juicio, burofax",
        "authority": "oficina del consumidor, omic, ocu, facua, defensa del consumidor, "
                     "profeco, hoja de reclamaciones, libro de reclamaciones, policia, "
                     "guardia civil, autoridades, denunci*, oficina de consumo, ir a consumo, "
                     "en consumo",
        "social_media": _each("publicar*, publicare, compartir*, compartire, subir*, subire, "
                              "contar*, contare, poner, pondre",
                              _PLATFORMS + ", redes sociales")
                        + ", en redes sociales, contarselo a todo el mundo, "
                          "contar a todo el mundo, todo el mundo sabra, advertir a todos, "
                          "avisar a todos, advertir* a otros, todo el mundo sepa, "
                          "todo el mundo se entere, la prensa, periodista*, "
                          "los medios",
    },
    "ru": {
        "bad_review": "плох* отзыв*, негативн* отзыв*, отрицательн* отзыв*, "
                      "разгромн* отзыв*, одну звезду, 1 звезд*, ноль звезд, отзыв* ... везде, "
                      "во всех отзывах, отзовик*, "
                      + _each("оставлю, оставить, напишу, написать, опубликую",
                              "отзыв*"),
        "chargeback": "чарджбэк*, чарджбек*, chargeback*, оспор* ... платеж*, "
                      "оспор* ... операци*, оспор* ... списани*, оспорю, "
                      "опротест* ... платеж*, обращусь в банк, обратиться в банк, "
                      "обращусь в свои банк, заявление в банк, через банк, "
                      "paypal ... спор, открыть спор, открою спор, диспут*",
        "lawyer": "юрист*, адвокат*, суд, суда, суде, судом, в суд, судебн*, судиться, "
                  "засужу, иск, иска, иском, исков*, досудебн*",
        "authority": "роспотребнадзор*, защит* прав потребител*, прав потребителеи, "
                     "полиц*, прокуратур*, пожалуюсь ... в, мвд, жалоб* в органы, "
                     "в органы",
        "social_media": _each("напишу, расскажу, выложу, опубликую, размещу",
                              _PLATFORMS + ", соцсет*, социальн* сет*, вконтакте, вк, "
                              "телеграм*, инстаграм*, фейсбук*, ютуб*, тикток*")
                        + ", расскажу всем, все узнают, предупрежу всех, "
                          "предупредить других, предупрежу других, журналист*, сми, "
                          "в прессу, в соцсетях",
    },
    "cs": {
        "bad_review": "spatn* recenz*, negativni recenz*, spatn* hodnoceni, "
                      "negativni hodnoceni, jednu hvezd*, 1 hvezd*, nula hvezd, heurek*, "
                      "heurec*, "
                      + _each("napisu, napsat, dam, dat, pridam", "recenz*, hodnoceni"),
        "chargeback": "chargeback*, zpetn* zuctovani, ozvu se bance, kontaktuji banku, "
                      "kontaktovat banku, pres banku, rozporuj* ... platb*, rozporovat, "
                      "reklamuji platbu, obratim se na banku, paypal ... spor, spor ... paypal, "
                      "platb* ... rozporuj*, do banky, u banky, reklamac* platby",
        "lawyer": "pravnik*, pravnick*, advokat*, soud, soudu, soude, soudem, soudni*, "
                  "zalob*, zalovat, zazaluj*, predzalobni*, pravni* krok*",
        "authority": "coi, obchodni inspekc*, inspekc*, dtest, spotrebitelsk* organizac*, "
                     "ochran* spotrebitel*, policie, policii, polici, trestni oznameni",
        "social_media": _each("napisu, dam, sdilim, zverejn*, pridam",
                              _PLATFORMS + ", socialni* sit*, socialnich sitich")
                        + ", vsem reknu, reknu vsem, varovat ostatni, varuji ostatni, "
                          "upozornim ostatni, novinar*, do medii, na socialnich sitich",
    },
    "et": {
        "bad_review": "halb* ... arvustus*, negatiivne ... arvustus*, negatiivse* ... arvustus*, "
                      "halb tagasiside, halva tagasiside, negatiivne tagasiside, "
                      "negatiivse tagasiside, uks taht, uhe tarni*, uhe tahe, halb hinnang, "
                      "halva hinnangu, negatiivne hinnang, "
                      + _each("kirjutan, jatan, panen, postitan", "arvustus*, trustpilot*, "
                              "google*"),
        "chargeback": "chargeback*, tagasinoue, vaidlustan*, vaidlusta*, pangale, "
                      "panga kaudu, poordun panka, poordun ... panga*, pangaga",
        "lawyer": "advokaat*, advokaad*, jurist*, kohtusse, kohtule, kohtus, kohtuasi, "
                  "hagi, hagiga, oigusabi, oiguslik* ... samm*",
        "authority": "tarbijakaitse*, ttja, tarbijavaidlus*, politsei*",
        "social_media": _each("postitan, jagan, kirjutan, avaldan, panen",
                              _PLATFORMS + ", sotsiaalmeedia*")
                        + ", raagin koigile, koik saavad teada, hoiatan koiki, hoiatan teisi, "
                          "ajakirjanik*, meediasse, meedia*",
    },
}

#: phrases that cancel any cue they overlap: praise, not threats
SAFE: dict[str, str] = {
    "en": "good ... review*, great ... review*, positive ... review*, glowing review*, "
          "nice ... review*, excellent ... review*, 5 star*, five star*, fair review*",
    "fr": "bon avis, bons avis, avis positif*, excellent avis, avis favorable*, 5 etoiles, "
          "cinq etoiles, bonne note",
    "de": "gute* ... bewertung*, positive* ... bewertung*, tolle* ... bewertung*, "
          "gute* ... rezension*, 5 sterne, funf sterne",
    "es": "buena* ... resena*, resena* positiva*, buena* ... opinion*, buena* ... valoracion*, "
          "excelente* ... resena*, 5 estrellas, cinco estrellas",
    "ru": "хорош* отзыв*, положительн* отзыв*, отличн* отзыв*, 5 звезд, пять звезд",
    "cs": "dobr* recenz*, pozitivni recenz*, dobr* hodnoceni, pozitivni hodnoceni, "
          "skvel* recenz*, 5 hvezd*, pet hvezd*",
    "et": "hea* ... arvustus*, positiivne* ... arvustus*, positiivse* ... arvustus*, "
          "hea tagasiside, positiivne tagasiside, viis tarni, 5 tarni",
}

#: praise that, in the same clause and not negated, cancels review and social-media cues
POSITIVE: dict[str, str] = {
    "en": "great, amazing, wonderful, excellent, fantastic, love, loved, recommend*, happy, "
          "pleased, delighted, awesome",
    "fr": "super, genial*, excellent*, formidable, ravi*, recommand*, adore, merveilleu*",
    "de": "toll*, super, klasse, ausgezeichnet*, hervorragend*, empfehl*, begeistert, "
          "zufrieden, wunderbar*",
    "es": "genial*, excelente*, estupend*, encant*, recomend*, fantastic*, maravill*",
    "ru": "отличн*, замечательн*, прекрасн*, рекоменд*, доволен, довольна, довольны, "
          "восторг*, супер",
    "cs": "skvel*, vyborn*, super, doporuc*, spokojen*, uzasn*",
    "et": "suurepara*, super, soovita*, rahul, imeline, tore, lahe",
}

#: words that negate what follows or precedes them
NEGATIONS: dict[str, str] = {
    "en": "not, no, never, t, without, nor, neither, dont, wont, didnt, cant, wouldnt, "
          "shouldnt, isnt, arent, nobody",
    "fr": "ne, n, pas, jamais, aucun*, sans, ni, nul, nulle",
    "de": "nicht, kein*, nie, niemals, ohne, keinesfalls",
    "es": "no, nunca, jamas, sin, ningun*, ni, tampoco",
    "ru": "не, нет, без, никогда, ни, незачем, ненужно",
    "cs": "ne, nebudu, nechci, nehodlam, neni, nemam, nemusim, nemusite, nepotrebuj*, "
          "nikdy, zadn*, bez, nebude, nenapisu, nedam, nepujdu, neplanuj*, nebudeme",
    "et": "ei, pole, ara, mitte, ilma, polnud",
}

#: words that make a negation part of a condition ("if you don't refund me, I will sue")
CONDITIONS: dict[str, str] = {
    "en": "if, unless, otherwise, or, until",
    "fr": "si, sinon, sauf, faute",
    "de": "wenn, falls, sonst, ansonsten, andernfalls, bis",
    "es": "si, sino, caso, hasta",
    "ru": "если, иначе, или, пока",
    "cs": "pokud, jestli, jestlize, kdyz, jinak, nebo, dokud",
    "et": "kui, muidu, vastasel, voi, kuni",
}

#: hesitation words: "I won't hesitate to sue" negates the hesitating, not the suing
HESITATE: dict[str, str] = {
    "en": "hesitate*, think twice",
    "fr": "hesit*",
    "de": "zoger*, zurucksch*",
    "es": "dud*, dudare",
    "ru": "колеба*, постесня*, задумаюсь",
    "cs": "vah*, rozmysl*",
    "et": "kohkle*, kahtle*",
}

#: words that start a new clause inside a sentence ("..., but ...")
CLAUSE_WORDS: dict[str, str] = {
    "en": "but, however, although, though",
    "fr": "mais, cependant, pourtant",
    "de": "aber, jedoch, doch, sondern",
    "es": "pero, sino, aunque",
    "ru": "но, однако, хотя",
    "cs": "ale, avsak, vsak, prestoze",
    "et": "aga, kuid, ent",
}

# ---- matching ---------------------------------------------------------------------------

GAP = ("...", "")
Piece = tuple[str, str]          # ("=", word) | ("^", stem) | ("~", part) | GAP
Pattern = tuple[Piece, ...]


def _spelling(lang: str, word: str) -> str:
    """German written without umlauts ("rueckbuchung") reads like the folded umlaut."""
    if lang == "de":
        return word.replace("ae", "a").replace("oe", "o").replace("ue", "u")
    return word


def _compile(entry: str, lang: str) -> Pattern | None:
    pieces: list[Piece] = []
    for raw in entry.split():
        if raw == "...":
            if pieces and pieces[-1] != GAP:
                pieces.append(GAP)
            continue
        lead, trail = raw.startswith("*"), raw.endswith("*")
        subs = [_spelling(lang, t) for t in tokens(fold(raw.strip("*")))]
        for j, sub in enumerate(subs):
            if lead and j == 0:
                pieces.append(("~", sub))
            elif trail and j == len(subs) - 1:
                pieces.append(("^", sub))
            else:
                pieces.append(("=", sub))
    while pieces and pieces[-1] == GAP:
        pieces.pop()
    while pieces and pieces[0] == GAP:
        pieces.pop(0)
    return tuple(pieces) or None


def _word_ok(piece: Piece, word: str) -> bool:
    kind, text = piece
    if kind == "=":
        return word == text
    if kind == "^":
        return word.startswith(text)
    return text in word


def _match_at(pat: Pattern, words: Sequence[str], i: int) -> int | None:
    """End index (exclusive) of ``pat`` matched from ``words[i]``, else None."""
    if not pat:
        return i
    head, rest = pat[0], pat[1:]
    if head == GAP:
        for skip in range(0, MAX_GAP + 1):
            end = _match_at(rest, words, i + skip)
            if end is not None:
                return end
            if i + skip >= len(words):
                break
        return None
    if i < len(words) and _word_ok(head, words[i]):
        return _match_at(rest, words, i + 1)
    return None


@dataclass(frozen=True)
class _Entry:
    text: str
    pattern: Pattern


def _entries(spec: str, lang: str) -> tuple[_Entry, ...]:
    out: list[_Entry] = []
    seen: set[Pattern] = set()
    for raw in spec.split(","):
        text = " ".join(raw.split())
        pat = _compile(text, lang) if text else None
        if pat is not None and pat not in seen:
            seen.add(pat)
            out.append(_Entry(text, pat))
    return tuple(out)


@dataclass(frozen=True)
class _Language:
    code: str
    cues: tuple[tuple[str, _Entry], ...]        # (kind, entry)
    safe: tuple[_Entry, ...]
    positive: tuple[_Entry, ...]
    negations: tuple[_Entry, ...]
    conditions: tuple[_Entry, ...]
    hesitate: tuple[_Entry, ...]
    clause_words: frozenset[str]


@cache
def _language(code: str) -> _Language:
    cues = tuple((kind, e) for kind in THREAT_KINDS
                 for e in _entries(CUES[code].get(kind, ""), code))
    return _Language(code=code, cues=cues, safe=_entries(SAFE.get(code, ""), code),
                     positive=_entries(POSITIVE.get(code, ""), code),
                     negations=_entries(NEGATIONS.get(code, ""), code),
                     conditions=_entries(CONDITIONS.get(code, ""), code),
                     hesitate=_entries(HESITATE.get(code, ""), code),
                     clause_words=frozenset(_spelling(code, w) for w in
                                            tokens(fold(CLAUSE_WORDS.get(code, "")))))


def _spans(entries: Iterable[_Entry], words: Sequence[str]) -> list[tuple[int, int]]:
    found = []
    for e in entries:
        for i in range(len(words)):
            end = _match_at(e.pattern, words, i)
            if end is not None:
                found.append((i, end))
    return found


def _positions(entries: Iterable[_Entry], words: Sequence[str]) -> set[int]:
    return {start for start, _end in _spans(entries, words)}


# ---- text to clauses ----------------------------------------------------------------------

_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|\n\s*\n|\n(?=\s*[-*•\d])")
_CLAUSE_MARK = re.compile(r"[,;:()\[\]\u2013\u2014]|\s-\s")
_EVIDENCE_MAX = 240


def _sentences(text: str) -> list[str]:
    out = []
    for part in _SENTENCE_END.split(text):
        one = " ".join(part.split())
        if one:
            out.append(one)
    return out


def _clauses(sentence: str, lang: _Language) -> list[list[str]]:
    clauses: list[list[str]] = []
    for piece in _CLAUSE_MARK.split(sentence):
        current: list[str] = []
        for word in tokens(fold(piece)):
            word = _spelling(lang.code, word)
            if word in lang.clause_words and current:
                clauses.append(current)
                current = []
                continue
            current.append(word)
        if current:
            clauses.append(current)
    return clauses


def _cancelled(kind: str, start: int, end: int, words: list[str], lang: _Language,
               negs: set[int], conds: set[int], hesitate: set[int],
               safe: list[tuple[int, int]], praise: bool) -> bool:
    if any(s < end and start < e for s, e in safe):
        return True
    if praise and kind in ("bad_review", "social_media"):
        return True
    if any(start <= n < end for n in negs):
        return True                               # "leave no review", inside a gap
    for n in negs:
        if start - NEG_BEFORE <= n < start:
            if any(c < n for c in conds):
                continue                          # "if you don't refund me, I will sue"
            if any(n < h < start for h in hesitate):
                continue                          # "I won't hesitate to sue"
            return True
        if end <= n < end + NEG_AFTER:
            if any(end <= c < n for c in conds):
                continue                          # "I will sue if you do not answer"
            return True                           # "Anwalt brauche ich nicht"
    return False


def _clause_threats(words: list[str], lang: _Language) -> list[tuple[int, str, str]]:
    """(position, kind, cue) of each threat found in one clause, not cancelled."""
    hits: list[tuple[int, str, str]] = []
    negs = _positions(lang.negations, words)
    conds = _positions(lang.conditions, words)
    hesitate = _positions(lang.hesitate, words)
    safe = _spans(lang.safe, words)
    praise = any(not any(p - 2 <= n < p for n in negs)
                 for p in _positions(lang.positive, words))
    for kind, entry in lang.cues:
        for i in range(len(words)):
            end = _match_at(entry.pattern, words, i)
            if end is None:
                continue
            if not _cancelled(kind, i, end, words, lang, negs, conds, hesitate, safe, praise):
                hits.append((i, kind, entry.text))
                break                              # one hit per entry and clause is enough
    return hits


def find_threats(text: str, language: str | None = None) -> list[ReputationThreat]:
    """The reputation threats in a customer's own words, with the sentence of each.

    ``language``: the detected language (ISO 639-1); its cues are used, or every reply
    language's when it is unknown or not a reply language. Quoted lines are dropped
    first. One threat per kind and sentence, in the order of the text.
    """
    own = strip_quotes(text or "", signature=True)
    codes = [language] if language in LANGUAGES else list(LANGUAGES)
    found: list[tuple[int, int, ReputationThreat]] = []
    seen: set[tuple[str, str]] = set()
    for s_index, sentence in enumerate(_sentences(own)):
        for code in codes:
            lang = _language(code)
            offset = 0
            for words in _clauses(sentence, lang):
                for pos, kind, cue in _clause_threats(words, lang):
                    evidence = sentence if len(sentence) <= _EVIDENCE_MAX \
                        else sentence[:_EVIDENCE_MAX - 1].rstrip() + "…"
                    if (kind, evidence) in seen:
                        continue
                    seen.add((kind, evidence))
                    found.append((s_index, offset + pos,
                                  ReputationThreat(kind=kind, cue=cue, evidence=evidence)))
                offset += len(words)
    found.sort(key=lambda item: (item[0], item[1]))
    return [threat for _s, _p, threat in found]


def kinds(threats: Iterable[ReputationThreat]) -> list[str]:
    """The distinct kinds, in THREAT_KINDS order."""
    present = {t.kind for t in threats}
    return [k for k in THREAT_KINDS if k in present]
