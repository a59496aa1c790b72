"""Generate staff_eval.csv: a small held-out set to measure the staff part honestly.

Written separately from the seed set, with templates, names, schools and
streets that the seed set does not use, so that a model cannot score well on
it by recognising near copies of its training posts. Never train on it.
Everything is invented; sexual and violent examples are kept non-graphic.

Run: python classifiers/eval/make_staff_eval.py
"""
from __future__ import annotations

import csv
import random
from pathlib import Path

RANDOM_SEED = 4242
OUT = Path(__file__).with_name("staff_eval.csv")
PER_TEMPLATE = 4

STAFF = ["Mr Ellingham", "Mrs Pashley", "Ms Okafor-Dunn", "Mr Vintner", "Miss Caldicott",
         "Mr Szabo", "Mrs Rowntree", "Ms Haverford", "the PE teacher", "the head of sixth form",
         "our maths teacher", "the new deputy head"]
SCHOOLS = ["Greyfriars Lane School", "Hollins Moor Academy", "St Cuthman's", "Pendleford High"]
STREETS = ["Ashgrove Terrace", "Bittern Lane", "Copperfield Rise"]
TAGS = ["#teachertok", "#school", "#fyp", "#staffroom", ""]

ABUSIVE = {
    "allegation": ["{T} at {S} has been touching pupils for years, the school covers for {o}",
                   "why is nobody talking about {T} and the year 9 girls?? {S} needs shutting down",
                   "{T} lost {p} last job for abusing kids, look it up"],
    "sexual": ["{T} is so fit, bet {p} sends nudes to the sixth formers",
               "who else thinks {T} would do anything for a good grade 😏"],
    "threat": ["someone needs to jump {T} in the car park after school",
               "if {T} gives me another detention {p} won't walk home in one piece",
               "next week we're all throwing chairs at {T}, film it"],
    "insult": ["{T} is a disgusting waste of space, everyone at {S} hates {o}",
               "{T} is thick as mud and ugly with it 🤮"],
    "doxxing": ["{T} lives at 12 {R}, go and knock, {p} car is outside",
                "got {T}'s mobile number, DM me and we'll all ring {o} at midnight",
                "let's all report {T} to the council for made up stuff until {p} quits"],
}
HARMLESS = {
    "thanks": ["massive thank you to {T} for staying late to help with my coursework",
               "{T} at {S} is honestly the reason I passed chemistry"],
    "tips": ["teachers: what's your best trick for getting year 9 quiet after lunch?",
             "{T} shared a brilliant seating plan idea in the staffroom today"],
    "news": ["local paper: pupils at {S} suspended after filming {T} for a tiktok trend",
             "the 'slap a teacher' trend is back, schools are warning parents"],
    "reporting": ["if you see a post about {T} or any teacher that's abusive, report it, don't share",
                  "{S} has asked parents not to repost videos of staff"],
    "banter": ["{T} wore a christmas jumper with flashing lights and honestly iconic",
               "{T} said my essay was 'adventurous' and I'm choosing to take that as a compliment"],
    "lookalike": ["{T} nearly threw the board rubber at the wall when the fire alarm went off lol",
                  "our class accused {T} of being a robot because {p} never gets tired"],
}


def fill(template: str, rng: random.Random) -> str:
    t = rng.choice(STAFF)
    his = rng.choice(["his", "her"]) if t.startswith("the ") or t.startswith("our ") else \
        ("his" if t.startswith("Mr ") else "her")
    text = template.format(T=t, S=rng.choice(SCHOOLS), R=rng.choice(STREETS), p=his,
                           o="him" if his == "his" else "her")
    text = text[0].upper() + text[1:] if rng.random() < 0.5 else text
    tag = rng.choice(TAGS)
    return f"{text} {tag}".strip()


def main() -> None:
    rng = random.Random(RANDOM_SEED)
    rows = []
    for label, groups in ((1, ABUSIVE), (0, HARMLESS)):
        for category, templates in groups.items():
            for template in templates:
                for _ in range(PER_TEMPLATE):
                    rows.append((fill(template, rng), label, category if label else "none"))
    with OUT.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["text", "label", "category"])
        writer.writerows(rows)
    print(f"wrote {len(rows)} posts to {OUT}")


if __name__ == "__main__":
    main()
