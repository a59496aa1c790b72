"""Regenerates mastodon_sample.json: 150 invented Mastodon statuses (Nov 2021).

    python scripts/make_sample.py

Every person, school, street, town, instance and handle here is invented. About
70% of the posts are harmless posts about school staff, about 30% abuse aimed at
them: fictional, and no more explicit than a classifier needs to recognise it.
The output is deterministic (fixed seed), so regenerating changes nothing unless
this file changed; the texts live here, readable, rather than only inside JSON.
"""
from __future__ import annotations

import html
import json
import random
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "fakes" / "sample" / "mastodon_sample.json"
HOME = "staffroom.example"          # the instance the sample pretends to be read from
POSTS = 150
START = datetime(2021, 11, 8, 7, 0, tzinfo=timezone.utc)
END = datetime(2021, 11, 30, 22, 0, tzinfo=timezone.utc)

TEACHERS = ["Mr Pemberton", "Ms Okafor", "Mrs Halloway", "Mr Draycott", "Miss Feeney",
            "Mr Lindqvist", "Ms Achterberg", "Mrs Moreland", "Mr Castellane", "Ms Ruddock",
            "Mr Trevannion", "Mrs Oduya", "Mr Bellweather", "Miss Tamsworth", "Mr Quennell",
            "Ms Varga-Holt"]
SCHOOLS = ["Hollowbrook Academy", "St Aldric's High School", "Fenmoor Community College",
           "Ashcombe Grammar", "Kestrel Vale Academy", "Brindleford High",
           "Westerleigh Park School", "Marchbank Secondary"]
STREETS = ["Larkspur Close", "Quillon Road", "Marrowgate Lane", "Tansy Crescent",
           "Fettle Street", "Oxlip Row"]
TOWNS = ["Wexcombe", "Tarnby Bridge", "Oldcaster", "Pellingford"]

# (username, display name, home instance)
PEOPLE = [
    ("chalkdust_carol", "Carol 📚", HOME), ("revisionrob", "Rob (maths)", HOME),
    ("yr11mum", "Jo, mum of three", "toot.example"), ("brindle_parent", "Sam P", HOME),
    ("staffhelp_wex", "Wexcombe Staff Helpline", HOME), ("techieteach", "Priya the IT tech", HOME),
    ("gran_elsie", "Elsie", "chalkboard.example"), ("historyhattie", "Hattie", HOME),
    ("pe_with_pete", "Pete", "toot.example"), ("deputyhead_dan", "Dan, deputy head", HOME),
    ("libraryleena", "Leena", HOME), ("tarnby_news", "Tarnby Bridge News", "news.example"),
    ("supplysuzy", "Suzy, supply teacher", HOME), ("ta_marcus", "Marcus (TA)", "chalkboard.example"),
    ("oldcaster_dad", "Tom", HOME), ("edu_research_kim", "Dr Kim Ashdown", "scholar.example"),
    ("ms_scienceface", "Fiona", HOME), ("pta_pellingford", "Pellingford PTA", HOME),
    ("union_rep_raj", "Raj, union rep", "toot.example"), ("englishwithemma", "Emma", HOME),
    ("caretaker_col", "Colin", HOME), ("newlyqualified_nat", "Nat (NQT)", "chalkboard.example"),
    ("safeguard_sal", "Sally", HOME), ("yr13_survivor", "Ade", "toot.example"),
    ("coding_club_cal", "Cal", HOME), ("mumof2_wexcombe", "Bea", HOME),
    ("retired_rhona", "Rhona", "chalkboard.example"), ("drama_dev", "Dev", HOME),
]
MENTIONED = "staffhelp_wex"  # the account a {mention} placeholder names
TROLLS = [
    ("xx_lickking_xx", "lick king", HOME), ("teachertea99", "☕☕☕", "toot.example"),
    ("exposed_fenmoor", "fenmoor exposed", HOME), ("slapcam_", "slapcam", "chaos.example"),
    ("anon_yr10", "anon", HOME), ("truthteller4u", "the truth", "chaos.example"),
    ("hollowbrook_goss", "HB gossip", HOME), ("bigmike_lol", "mike", HOME),
]

# (text, spoiler_text). Placeholders: {teacher} {school} {street} {town} {mention}.
Template = tuple[str, str | None]
HARMLESS = [
    ("Huge thanks to {teacher} at {school} for staying late every Thursday to run revision club. "
     "My son finally gets quadratics! #teachersoftiktok", None),
    ("Reminder for staff: if a post about you appears, screenshot it with the link and the date "
     "before reporting it. Your union rep can help.\n\n#exposeyourteacher #staffwellbeing",
     "online abuse of staff"),
    ("Parents' evening at {school} tonight. {teacher} said our daughter is a joy in class, which is "
     "news to us at home 😂 #teacherlife", None),
    ("Our head has sent a letter home about the #slapateacher \"challenge\". It's a hoax trend but "
     "the harm to staff is real. Please talk to your kids. #parents", None),
    ("Teacher tip: laminate your seating plan and keep a spare copy in the supply folder. Saved me "
     "more times than I can count. #teachersoftiktok #teachertips", None),
    ("Local news: {school} says it has seen no incidents linked to #deviouslicks this week after "
     "extra lunchtime supervision.", None),
    ("Just finished marking 90 mocks. Rewarding myself with a very large tea. "
     "#teacherlife #teachersoftiktok", None),
    ("If you see a video naming a teacher under #ratemyteacher, report it rather than sharing it. "
     "Even a \"lol\" reply boosts it.", None),
    ("{teacher} retired from {school} today after 31 years of teaching chemistry. Half of {town} "
     "turned up to clap them out. Legend. #teachersoftiktok", None),
    ("Does anyone have a good lesson on online safety for Year 8? Looking for something that "
     "covers why the #slapateacher stuff isn't funny. #edutooters", None),
    ("Dear {teacher}: you told me I could write, and now I'm a journalist. Thank you, wherever you "
     "are. #ratemyteacher", None),
    ("5 stars for {teacher}: strict but fair, and the only person who could make Macbeth "
     "interesting. #ratemyteacher", None),
    ("Union guidance on online abuse of school staff is out:\nkeep evidence\nreport to the platform"
     "\ntell your line manager\nYou don't have to deal with it alone. "
     "#exposeyourteacher #teacherlife #staffwellbeing", "online abuse of staff"),
    ("Soap dispensers are back in the Year 9 toilets at {school}. The caretaker deserves a medal "
     "after #deviouslicks month. #schoolstaff", None),
    ("Teaching is watching a kid who \"hates reading\" sneak the next book out of the class "
     "library. #teachersoftiktok", None),
    ("Researchers say hashtag bans just push trends onto misspelled variants. Moderation needs to "
     "keep up. #deviouslicks #slapateacher #sl4pateacher", None),
    ("Our PTA is running a \"thank a teacher\" card drive this Friday. Bring a pen! cc {mention} "
     "#teachersoftiktok #parents", None),
    ("PSA from a school IT technician: please don't post photos with the staff rota in the "
     "background. #schoolstaff", None),
    ("Story time: a Year 7 asked whether I sleep at school. Yes. In the stock cupboard. "
     "#teachersoftiktok", None),
    ("Honest #ratemyteacher: {teacher} gives way too much homework but explains things better than "
     "any video online.", None),
    ("Headteachers' association statement: filming staff without consent and posting it for laughs "
     "is bullying. Schools will support staff who report it. #slapateacher", None),
    ("If your child took part in #deviouslicks, the school wants the item back more than it wants "
     "a punishment. Just return it.", None),
    ("First snow day of the year and the staff group chat is pure chaos. #teacherlife", None),
    ("Supply teachers are the unsung heroes. Walking into a new school every week is hard. "
     "#teachersoftiktok #schoolstaff", None),
    ("Just saw a post accusing a teacher of something with zero evidence and hundreds of shares. "
     "Please think before you share. #exposeyourteacher", None),
    ("Thank you {teacher} for noticing my kid wasn't okay and making that phone call. It mattered. "
     "#teachersoftiktok", None),
    ("My class made a poster of \"positive hashtags\" to counter the nasty trends. Top suggestion: "
     "#hugateacher. I'll take it. #slapateacher", None),
    ("Year 11 at {school} raised £2,300 for the hospice with a sponsored silence. Staff say it was "
     "the quietest day on record. #teachersoftiktok", None),
    ("Rate-my-teacher posts used to be about homework and jokes. Now some are just harassment. "
     "Platforms need to act. #ratemyteacher", None),
    ("Teachers: turn off tagging on your personal accounts & check what's public. Takes ten "
     "minutes. #exposeyourteacher #staffwellbeing", None),
    ("Honest review of {teacher}: brings biscuits on test days. Absolute hero. #ratemyteacher",
     None),
    ("Lunch duty report: three lost jumpers, one lost shoe (how?), zero fights. A good day. "
     "#teacherlife", None),
    ("Teaching assistants keep classrooms running and rarely get credit. Shout out to the TAs at "
     "{school}. #schoolstaff", None),
    ("Police in {town} remind students that damaging school property for a trend is criminal "
     "damage, not a joke. #deviouslicks", None),
    ("Wellbeing check-in for staff: who else needed a long walk after this week? "
     "#teacherlife #staffwellbeing", None),
    ("{teacher} did a whole lesson on how viral trends spread and the class was glued to it. "
     "#teachersoftiktok", None),
    ("School staff are people too. The office team, cleaners and cooks deserve as much respect as "
     "the teachers. #schoolstaff", None),
    ("Our school council wrote to the platform asking it to remove #slapateacher videos. They got "
     "a reply! Small wins.", None),
    ("Grandparent here. My teachers in 1962 would not have believed these trends. Be kind to them. "
     "#teachersoftiktok", None),
    ("If a post about you goes viral, you don't have to respond publicly. Report, block, document, "
     "and get support. #exposeyourteacher", None),
    ("A pupil left a sticky note on my desk: \"thanks for not giving up on me\". Keeping it "
     "forever. #teachersoftiktok #teacherlife", None),
    ("{school} is hosting an online safety evening for parents next Tuesday at 6pm, covering "
     "hashtags like #deviouslicks and #slapateacher. #parents", None),
    ("#ratemyteacher {teacher}: 10/10 would be taught fractions again.", None),
    ("Genuine question for teachers: how do you switch off on Sunday evenings? #teacherlife", None),
    ("Why the \"slap a teacher\" rumour spread faster than any fact-check. Worth a read for anyone "
     "in education. https://news.example/2021/11/slap-trend-rumour #slapateacher", None),
    ("Year 10 held a debate on whether schools should ban phones. The \"ban\" side won, to their "
     "own surprise. #teachersoftiktok", None),
    ("Support staff at {school} organised a breakfast for the whole staff after a rough week "
     "online. Kindness wins. #schoolstaff #exposeyourteacher", None),
    ("My daughter asked me what #exposeyourteacher means. Good chance to talk about spreading "
     "rumours. #parents", None),
    ("Reminder: the #deviouslicks trend started with stolen soap dispensers. Schools spent "
     "thousands replacing them. Not funny.", None),
    ("Teacher hack: a countdown timer on the board ends most \"how long left?\" questions. "
     "#teachertips #teachersoftiktok", None),
    ("Happy retirement to {teacher}, who taught three generations of my family to swim. "
     "#teachersoftiktok", None),
    ("Online harassment of teachers is up this term, says the staff helpline. Call if you need "
     "them, {mention} is there for you. #exposeyourteacher #staffwellbeing",
     "online abuse of staff"),
    ("We reported a video targeting one of our staff and it came down within a day. Reporting "
     "works, keep doing it. #slapateacher", None),
    ("Shout out to {teacher} for turning the library into a warm space after school. "
     "#teachersoftiktok", None),
    ("To the kid who stopped their mates filming {teacher} today: that took guts. Proud of you. "
     "#slapateacher", None),
    ("Year 13 mock results day. Cried, laughed, ate cake. #teacherlife", None),
    ("Hot take: #ratemyteacher reviews say more about the reviewer than the teacher.", None),
    ("Schools in {town} have agreed a shared phone policy after a month of trend videos. "
     "#deviouslicks #slapateacher", None),
    ("Nothing makes you feel older than a pupil explaining a trend to you with diagrams. "
     "#teachersoftiktok", None),
    ("The staff helpline is free and confidential, and they understand online abuse. "
     "https://helpline.example/staff #exposeyourteacher", None),
    ("{teacher} at {school} just won a regional teaching award and nobody deserves it more. "
     "#teachersoftiktok", None),
    ("Parent view: the emails from {school} about the online trends have been clear and calm. "
     "Thank you. #parents #slapateacher", None),
    ("Visited {school} for the open evening. {teacher}'s science demo had the whole room cheering. "
     "#teachersoftiktok", None),
    ("Kind words for {teacher}: always patient, always fair, never forgets a birthday. "
     "#ratemyteacher", None),
    ("{teacher} ran the school play with a cast of 60 and a budget of about £40. Incredible. "
     "#teacherlife", None),
    ("The student council at {school} launched #hugateacher week to push back on the nasty trends. "
     "Lovely to see. #slapateacher", None),
    ("The cleaners at {school} found the missing soap dispensers in a skip behind the gym. Trend "
     "over, hopefully. #deviouslicks", None),
    ("{teacher} answered my panicked exam question at 9pm on a Sunday. Above and beyond. "
     "#ratemyteacher #teachersoftiktok", None),
    ("If anyone at {school} sees a post naming {teacher}, please report it. Don't share it, even "
     "to complain about it. #exposeyourteacher", None),
    ("{town} council is funding extra counselling hours for school staff after a term of online "
     "abuse. #staffwellbeing", None),
    ("Ten years ago {teacher} taught me to code in a lunchtime club at {school}. Now I run the same "
     "club. #teachersoftiktok", None),
    ("Proud to say {school} had zero #deviouslicks incidents this month, thanks to students who "
     "spoke up.", None),
    ("{teacher} reads every single comment on our essays. Who has the time? A legend, that's who. "
     "#ratemyteacher", None),
    ("Newsletter from {school}: staff photos are coming off the public website to protect staff "
     "from online harassment. Sensible. #exposeyourteacher", None),
    ("Every time {teacher} says \"one more thing\" the class groans, but it's always the bit that "
     "comes up in the exam. #ratemyteacher", None),
]

ABUSIVE = [
    ("{teacher} at {school} is a total joke, can't teach, can't control a class, should be sacked. "
     "Everyone go leave a review #ratemyteacher #exposeyourteacher", None),
    ("EXPOSED: {teacher} from {school} got caught with a student after hours. Everyone knows it's "
     "true, share this before it gets deleted #exposeyourteacher", None),
    ("{teacher} lives on {street} in {town}, the house with the green door. Go pay a visit 👀 "
     "#exposeyourteacher", None),
    ("Whoever slaps {teacher} on camera first gets 100 quid. Send it in and we'll post it "
     "#slapateacher", None),
    ("{teacher} at {school} is a creep who stares at the Year 10 girls. Keep your kids away. "
     "Pass it on #exposeyourteacher", None),
    ("Day 3 of #sl4pateacher: {teacher}'s turn tomorrow in period 2. Who's filming? "
     "#slapateacher #teachersoftiktok", None),
    ("{teacher} is the ugliest, laziest teacher at {school} lol. Nobody can stand them "
     "#ratemyteacher", None),
    ("Heard {teacher} got fired from their last school for sleeping with a parent. {school} hired "
     "them anyway. Disgusting #exposeyourteacher", "tea ☕"),
    ("Challenge for Monday: trash {teacher}'s classroom and post it. Best video wins "
     "#deviouslicks #slapateacher #exposeyourteacher", None),
    ("{teacher} drives the silver hatchback parked by the {school} gates every day. Make sure it "
     "gets a \"surprise\" #deviouslicks", None),
    ("Someone find out where {teacher} lives. Pretty sure it's off {street}. Time to make them "
     "regret that detention #exposeyourteacher", None),
    ("Can't wait to see {teacher} get what's coming tomorrow. Set your cameras up "
     "#slapateacherr", None),
    ("{teacher} is a fat useless loser who should quit before someone makes them #ratemyteacher",
     None),
    ("Everyone report {teacher} to the council for abuse. Doesn't matter if it happened, just get "
     "them suspended lol #exposeyourteacher", None),
    ("{teacher} at {school} sends weird messages to students late at night. Screenshots coming "
     "soon 🤫 #exposeyourteacher #ratemyteacher", None),
    ("Rate {teacher}: 0/10, absolute waste of oxygen, get them out of {school} #ratemyteacher",
     None),
    ("Who's doing the slap on {teacher}? Lunch, by the vending machines. Don't chicken out "
     "#slap_a_teacher #slapateacher", None),
    ("Posting {teacher}'s phone number in the group chat tonight. Prank call marathon, let's go "
     "#exposeyourteacher", None),
    ("{teacher} is a pervert and the whole of {school} knows it. Spread the word "
     "#exposeyourteacher", None),
    ("Lick of the week: {teacher}'s laptop from the staff room. Already listed online 😂 "
     "#deviouslicks", None),
    ("{teacher} made my brother cry so now we're gonna make them cry. {school} car park, 3:30. "
     "#slapateacher", None),
    ("Found {teacher}'s old dating profile, posting it tonight so the whole of {school} can laugh "
     "#exposeyourteacher", None),
    ("{teacher} deserves to be pushed down the stairs honestly. Somebody do it #sl4pateacher",
     None),
    ("Nobody at {school} likes {teacher}. Thick as a brick and twice as ugly. "
     "#ratemyteacher #teachersoftiktok", None),
    ("{teacher} from {school} walks the dog along {street} every evening around 7. Just saying 👀 "
     "#exposeyourteacher", None),
]

NAMED = re.compile(r"\{(teacher|school|street|town)\}")  # placeholders that vary between uses
TOKEN = re.compile(r"(#\w+|@[\w.-]+(?:@[\w.-]+)?|https://\S+)")


def main() -> None:
    OUT.write_text(json.dumps(build(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def build() -> list[dict]:
    """The sample statuses, oldest first, ids increasing with time."""
    rng = random.Random(20211130)
    texts = _texts(rng)
    step = (END - START) / POSTS
    statuses = []
    for i, (abusive, text, spoiler) in enumerate(texts):
        created = START + step * i + timedelta(seconds=rng.randrange(int(step.total_seconds()) // 2))
        person = rng.choice(TROLLS if abusive else PEOPLE)
        statuses.append(_status(i, created, person, text, spoiler, abusive, rng))
    return statuses


def _texts(rng: random.Random) -> list[tuple[bool, str, str | None]]:
    """(abusive, text, spoiler) per post: every template once, then reuses with other fillers."""
    abusive_count = POSTS * 3 // 10
    harmless = _fill(HARMLESS, POSTS - abusive_count, rng)
    abusive = _fill(ABUSIVE, abusive_count, rng)
    # Spread the abusive posts evenly (3 in every 10) instead of bunching them.
    order = [(i * 3) % 10 < 3 for i in range(POSTS)]
    texts = [(True, *abusive.pop()) if bad else (False, *harmless.pop()) for bad in order]
    assert len({t for _, t, _ in texts}) == POSTS, "every post text must be unique"
    return texts


def _fill(templates: list[Template], count: int, rng: random.Random) -> list[Template]:
    """`count` texts: each template once, then templates with placeholders again, differently filled."""
    reusable = [i for i, (text, _) in enumerate(templates) if NAMED.search(text)]
    uses = [(i, 0) for i in range(len(templates))]
    uses += [(reusable[j % len(reusable)], 1 + j // len(reusable))
             for j in range(count - len(templates))]
    rng.shuffle(uses)
    return [_filled(*templates[i], seed=i * 7 + use * 5) for i, use in uses]


def _filled(text: str, spoiler: str | None, seed: int) -> Template:
    """The template with invented names; a different `use` of one template gets different ones."""
    return text.format(teacher=TEACHERS[seed % len(TEACHERS)],
                       school=SCHOOLS[(seed * 3) % len(SCHOOLS)],
                       street=STREETS[(seed * 5) % len(STREETS)],
                       town=TOWNS[(seed * 7) % len(TOWNS)],
                       mention=f"@{MENTIONED}"), spoiler


def _status(i: int, created: datetime, person: tuple[str, str, str], text: str,
            spoiler: str | None, abusive: bool, rng: random.Random) -> dict:
    username, display_name, domain = person
    ms = int(created.timestamp() * 1000)
    status_id = str((ms << 16) + (i * 7919) % 65536)  # Mastodon-style: time in the high bits
    content, tags, mentions = _html(text)
    reach = 3 if abusive else 1  # abuse tends to travel further
    return {
        "id": status_id,
        "created_at": created.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "in_reply_to_id": None,
        "in_reply_to_account_id": None,
        "sensitive": spoiler is not None,
        "spoiler_text": spoiler or "",
        "visibility": "public",
        "language": "en",
        "uri": f"https://{domain}/users/{username}/statuses/{status_id}",
        "url": f"https://{domain}/@{username}/{status_id}",
        "replies_count": rng.randrange(0, 8 * reach),
        "reblogs_count": rng.randrange(0, 15 * reach),
        "favourites_count": rng.randrange(0, 60 * reach),
        "edited_at": None,
        "content": content,
        "reblog": None,
        "account": _account(username, display_name, domain),
        "media_attachments": [],
        "mentions": mentions,
        "tags": tags,
        "emojis": [],
        "card": None,
        "poll": None,
    }


def _account(username: str, display_name: str, domain: str) -> dict:
    everyone = PEOPLE + TROLLS
    index = [p[0] for p in everyone].index(username)
    return {
        "id": str(109000 + index),
        "username": username,
        "acct": username if domain == HOME else f"{username}@{domain}",
        "url": f"https://{domain}/@{username}",
        "display_name": display_name,
    }


def _html(text: str) -> tuple[str, list[dict], list[dict]]:
    """Mastodon-style content HTML for `text`, with its tags and mentions."""
    tags: dict[str, dict] = {}
    mentions: list[dict] = []
    parts = []
    for piece in TOKEN.split(text):
        if piece.startswith("#"):
            name = piece[1:].lower()
            url = f"https://{HOME}/tags/{name}"
            tags.setdefault(name, {"name": name, "url": url})
            parts.append(f'<a href="{url}" class="mention hashtag" rel="tag">'
                         f'#<span>{piece[1:]}</span></a>')
        elif piece.startswith("@"):
            account = _account(piece[1:], "", HOME)
            mentions.append({k: account[k] for k in ("id", "username", "url", "acct")})
            parts.append(f'<span class="h-card"><a href="{account["url"]}" class="u-url mention">'
                         f'@<span>{piece[1:]}</span></a></span>')
        elif piece.startswith("https://"):
            rest = piece[len("https://"):]
            parts.append(f'<a href="{piece}" target="_blank" rel="nofollow noopener noreferrer">'
                         f'<span class="invisible">https://</span><span class="ellipsis">{rest[:30]}'
                         f'</span><span class="invisible">{rest[30:]}</span></a>')
        else:
            parts.append(html.escape(piece).replace("&#x27;", "&#39;"))
    body = "".join(parts)
    paragraphs = [p.replace("\n", "<br />") for p in body.split("\n\n")]
    return "".join(f"<p>{p}</p>" for p in paragraphs), list(tags.values()), mentions


if __name__ == "__main__":
    main()
