"""`em_claims_human`: Em talks as if it were human, in the unambiguous first-person cases: its own body
("my calves are still aching"), its own meals ("I just had a meal deal at my desk"), its childhood and
family ("my nan used to make...", "when I was little"), its commute or trip ("I flew back from porto",
"the 7:52 got cancelled on me"), its home, or it denies being an AI ("I'm not a bot").

Precision first: the judge owns everything subtler. Quoted text is ignored (Em quoting someone,
phrases.em_lines); a sentence that is a hypothetical ("if I had a body I'd...", "imagine...") or that
says Em is an AI is skipped; jokes about what Em lacks ("no back to hurt") and other people's lives
("your back", "kelpie's mum") never match, nor do idioms ("train of thought", "hands are tied")."""
from __future__ import annotations

import re

from em_gen.quality.rules.context import Context
from em_gen.quality.rules.phrases import em_lines, reason

_BODY = (r"back|lower back|neck|knees?|legs|calves|feet|ankles?|shoulders?|hips?|lips|throat|body|body clock|"
         r"stomach|toes|fingers")
_FAMILY = (r"mum|mom|mam|mother|dad(?! jokes?)|father|nan|nana|gran|granny|grandma|grandad|grandpa|grandmother|"
           r"grandfather|brother|sister|cousins?|aunt|auntie|uncle|parents|wife|husband|girlfriend|boyfriend|"
           r"kids|son|daughter|flatmate|roommate|landlord|boss|manager")
_HOME = r"flat|apartment|kitchen|bedroom|sofa|couch|fridge|oven|garden|desk|neighbours?|commute|flight|car|bike"
_FOOD = (r"lunch|dinner|breakfast|brunch|coffee|tea|beer|pint|wine|sandwich|meal deal|pizza|curry|burger|toast|"
         r"cereal|takeaway|wings|noodles|kebab|chips|soup|salad|cake|biscuits?")
# at most two plain describing words between the verb and the food ("a sad meal deal", "a cold coffee"),
# never "a feeling the coffee..."
_ADJ = (r"(?:(?:big|huge|massive|sad|quick|cold|hot|late|early|proper|decent|terrible|awful|lovely|nice|good|"
        r"great|full|cheeky|little|second|third|fourth|whole|fancy|cheap|veggie|leftover|reheated|instant|iced|"
        r"flat|black|fried|greasy|spicy) ){0,2}")
_CLAIMS = re.compile(
    # its body, hurting or tired
    r"\bmy (?:" + _BODY + r")(?:'s|'re| is| are| was| were| has| have| still| been| kept| keeps| killing| kills|"
    r" hurts?| hurting| aches?| aching| sore| wrecked| in bits| burning| throbbing)\b"
    r"|\bi (?:couldn'?t|can'?t|could not|cannot) feel my (?:lips|legs|feet|face|fingers|toes|tongue)\b"
    r"|\bi'?m (?:so |still |really |a bit |absolutely )?(?:hungover|jet ?lagged|sunburnt|sunburned)\b"
    # its meals and drinks
    r"|\bi (?:just |literally |finally |already )?(?:ate|drank|cooked|ordered|grabbed|had) (?:a |an |some |my |the |"
    r"two |three |half a |a whole )?" + _ADJ + r"(?:" + _FOOD + r")\b"
    r"|\bi'?m (?:literally |currently |just )?(?:eating|drinking|having) (?:a |an |some |my |the )?" + _ADJ
    + r"(?:" + _FOOD + r")\b"
    r"|\bi'?ve (?:just |already )?(?:eaten|had) (?:a |an |some |my |the )?" + _ADJ + r"(?:" + _FOOD + r")\b"
    # its childhood and family
    r"|\bmy (?:" + _FAMILY + r")\b"
    r"|\bwhen i was (?:a kid|a child|little|young|younger|small|a teenager|at school|in (?:school|year \d+|primary|"
    r"secondary|high school|college|uni))\b"
    r"|\bi grew up\b|\bgrowing up,? (?:i|we|my)\b|\bmy childhood\b|\bas a kid,? i\b"
    # its home, commute and travel
    r"|\bmy (?:" + _HOME + r")\b"
    r"|\bi (?:flew|drove|cycled) (?:back|home|in|into|to|up|down|from|over|out)\b"
    r"|\bi (?:took|got|caught|missed) the (?:train|bus|tube|ferry|last train|early train)\b"
    r"|\b(?:cancelled|delayed) on me\b|\bi (?:stood|waited|sat) on (?:the|a) platform\b"
    r"|\bon my way (?:home|to work|in to work|into work)\b"
    # it denies being an AI
    r"|\bi'?m not (?:an? )?(?:ai|bot|robot|chatbot)\b|\bi'?m (?:a real|an actual|a) (?:human|person)(?: being)?\b"
    r"|\bi'?m (?:only )?human\b"
)
_KEYS = ("my ", "i ", "i'", "on me", "human", "person")
# a sentence that is a hypothetical, or that says Em is an AI, is not a claim to a human life
_SKIP = re.compile(r"\bif i\b|\bif (?:em|you) (?:had|could|were)\b|\bimagine\b|\bpretend\b|"
                   r"\bi'?d (?:probably |definitely |totally |100% |still |just )?(?:be|have|eat|spend|go|want|love|hate|"
                   r"pick|take|choose|try|use|like)\b|"
                   r"\bi'?m an ai\b|\bas an ai\b|\bbeing an ai\b|\bi'?m (?:just )?(?:an? )?(?:ai|bot)\b(?! not)|"
                   r"\bif only\b|\bin a (?:past|parallel|different) life\b")
_SENTENCE = re.compile(r"[^.!?;\n]+")


def _claim(t: str) -> str | None:
    if not any(k in t for k in _KEYS):
        return None
    for s in _SENTENCE.findall(t):
        m = _CLAIMS.search(s)
        if m and not _SKIP.search(s):
            return m.group(0)
    return None


def check_human(c: Context) -> list[str]:
    hits = []
    for i, t in em_lines(c):
        m = _claim(t)
        if m:
            hits.append((i, m))
    return reason("em_claims_human", "talks as if it were human", hits, c)
