"""Adding people and linking Telegram accounts (service level, real database)."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest

from bot.container import build_services
from models import (
    Access,
    Assignment,
    AssignmentStatus,
    AuditLog,
    Channel,
    Event,
    LinkToken,
    NotificationKind,
    OutboxMessage,
    OutboxStatus,
    Person,
)
from models.stamps import stamp
from services.clock import ManualClock
from services.errors import NotAllowed
from services.people import (
    Among,
    DuplicatePhone,
    InvalidPerson,
    LinkError,
    PeopleService,
    PersonField,
    PersonNotFound,
    hash_token,
)
from services.phones import InvalidPhone
from tests.conftest import BOT_USERNAME, make_settings


@pytest.fixture
def people(database: str, clock: ManualClock) -> PeopleService:
    return build_services(make_settings(), clock, bot_username=BOT_USERNAME).people


async def test_add_person_normalises_and_queues_the_invite_email(people: PeopleService) -> None:
    invite = await people.add_person(
        name="  Jane   Wanjiku ",
        phone="0712-345 678",
        email="jane@example.com",
        skills="Sound Engineer, rigger, sound engineer",
    )
    person = await Person.get(id=invite.person.id)
    assert (person.name, person.phone, person.skills) == (
        "Jane Wanjiku",
        "+254712345678",
        "sound engineer,rigger",
    )
    assert invite.link.startswith(f"https://t.me/{BOT_USERNAME}?start=")
    mail = await OutboxMessage.get(person=person)
    assert mail.channel is Channel.EMAIL and mail.email_to == "jane@example.com"
    assert invite.link in mail.text and invite.link in (mail.html or "")
    assert "connect your Telegram" in (mail.subject or "")
    assert await AuditLog.filter(action="person.added", subject_id=person.id).count() == 1


@pytest.mark.parametrize(
    ("fields", "error", "message"),
    [
        ({"phone": "0712"}, InvalidPhone, "wrong number of digits for a Kenyan mobile number"),
        ({"phone": "+1 202 555 0100"}, InvalidPhone, "is not a Kenyan number"),
        ({"name": "   "}, InvalidPerson, "The name is empty"),
        ({"name": "12345"}, InvalidPerson, "does not look like a name"),
        ({"email": "jane@"}, InvalidPerson, "is not an email address"),
    ],
)
async def test_bad_input_is_refused_and_nothing_is_saved(
    people: PeopleService, fields: dict[str, str], error: type[Exception], message: str
) -> None:
    values = {"name": "Jane Wanjiku", "phone": "0712345678", "email": None, **fields}
    with pytest.raises(error, match=message):
        await people.add_person(**values)  # type: ignore[arg-type]
    assert await Person.all().count() == 0
    assert await OutboxMessage.all().count() == 0


async def test_duplicate_phone_names_the_existing_person(people: PeopleService) -> None:
    await people.add_person(name="Jane Wanjiku", phone="0712345678")
    with pytest.raises(DuplicatePhone, match=r"\+254712345678 already belongs to Jane Wanjiku"):
        await people.add_person(name="John Otieno", phone="+254 712 345 678")


async def test_deep_link_binds_once(people: PeopleService) -> None:
    invite = await people.add_person(name="Jane Wanjiku", phone="0712345678")
    token = invite.link.rsplit("=", 1)[1]
    person = await people.link_with_token(token, 5001, "jane_w")
    assert person.telegram_id == 5001
    assert (await people.by_telegram_id(5001)) is not None
    with pytest.raises(LinkError, match="already linked to another Telegram account"):
        await people.link_with_token(token, 6002, "mallory")
    assert (await Person.get(id=person.id)).telegram_id == 5001
    # Her own link again, from her own account: nothing changes, nothing is refused.
    assert (await people.link_with_token(token, 5001, "jane_w")).telegram_id == 5001


async def test_an_old_link_cannot_take_a_linked_account_and_the_owner_is_told(
    people: PeopleService, clock: ManualClock
) -> None:
    boss = (
        await people.add_person(
            name="Achieng Otieno",
            phone="0700000001",
            email="achieng@example.com",
            access=Access.MANAGER,
        )
    ).person
    token = (await OutboxMessage.get(person=boss)).text.split("?start=")[1].split()[0]
    # She links by sharing her contact; the emailed link (valid 7 days) must die with that.
    await people.link_with_contact(42, 42, "0700000001", "achieng")
    clock.advance(timedelta(hours=1))
    for _ in range(2):  # replaying the link tells her once, not once per try
        with pytest.raises(LinkError, match="already linked to another Telegram account"):
            await people.link_with_token(token, 6666, "mallory")
    stored = await Person.get(id=boss.id)
    assert (stored.telegram_id, stored.telegram_username) == (42, "achieng")
    assert await people.by_telegram_id(6666) is None
    notices = await OutboxMessage.filter(kind="account_notice").order_by("channel")
    assert [(n.channel, n.chat_id, n.email_to) for n in notices] == [
        (Channel.EMAIL, None, "achieng@example.com"),
        (Channel.TELEGRAM, 42, None),
    ]
    assert "It was refused" in notices[1].text
    assert await AuditLog.filter(action="person.link_refused", subject_id=boss.id).count() == 1
    link = await LinkToken.get(person_id=boss.id)
    assert link.used_at is None and link.expires_at <= clock.now()


async def test_linking_by_link_ends_every_other_link(people: PeopleService) -> None:
    boss = await _manager(people)
    first = await people.add_person(name="Jane Wanjiku", phone="0712345678")
    # A second unused link, as a manager's "New link" on another day would leave.
    await LinkToken.create(
        token_hash=hash_token("second-link-token"),
        person=first.person,
        expires_at=people.clock.now() + timedelta(days=7),
        created_at=people.clock.now(),
    )
    await people.link_with_token(first.link.rsplit("=", 1)[1], 5001, None)
    with pytest.raises(LinkError, match="already linked"):
        await people.link_with_token("second-link-token", 6002, None)
    assert (await Person.get(id=first.person.id)).telegram_id == 5001
    # Added already linked (callsheet add-manager --telegram-id): no link of theirs is live.
    assert boss.telegram_id == 42
    assert (await LinkToken.get(person_id=boss.id)).expires_at <= people.clock.now()


async def test_tokens_are_stored_hashed_and_odd_tokens_are_refused_with_a_reason(
    people: PeopleService,
) -> None:
    invite = await people.add_person(name="Jane Wanjiku", phone="0712345678")
    token = invite.link.rsplit("=", 1)[1]
    stored = await LinkToken.get(person_id=invite.person.id)
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest() != token
    for odd in ("x" * 65, "x" * 300, "bad token", "ünïcode", ""):
        with pytest.raises(LinkError, match="This link is not valid"):
            await people.link_with_token(odd, 5001, None)
    assert (await Person.get(id=invite.person.id)).telegram_id is None


async def test_new_link_for_a_linked_person_disconnects_them_and_tells_them(
    people: PeopleService,
) -> None:
    boss = await _manager(people)
    jane = await people.add_person(name="Jane Wanjiku", phone="0712345678")
    await people.link_with_contact(5001, 5001, "0712345678", "jane")
    fresh = await people.new_link(boss, jane.person.id)
    assert fresh.unlinked
    assert (await Person.get(id=jane.person.id)).telegram_id is None
    notice = await OutboxMessage.get(kind="account_notice")
    assert notice.chat_id == 5001 and "no longer connected" in notice.text
    # On her new phone the new link works.
    assert (await people.link_with_token(fresh.link.rsplit("=", 1)[1], 7007, None)).id == (
        jane.person.id
    )


async def test_expired_or_unknown_token_does_not_link(
    people: PeopleService, clock: ManualClock
) -> None:
    invite = await people.add_person(name="Jane Wanjiku", phone="0712345678")
    token = invite.link.rsplit("=", 1)[1]
    clock.advance(timedelta(days=8))
    with pytest.raises(LinkError, match="expired"):
        await people.link_with_token(token, 5001, None)
    with pytest.raises(LinkError, match="not valid"):
        await people.link_with_token("made-up-token", 5001, None)
    assert (await Person.get(id=invite.person.id)).telegram_id is None
    assert (await LinkToken.get(token_hash=hash_token(token))).used_at is None


async def test_contact_links_only_the_sender_themselves(people: PeopleService) -> None:
    await people.add_person(name="Jane Wanjiku", phone="0712345678")
    with pytest.raises(LinkError, match="not you"):
        await people.link_with_contact(7001, 9999, "+254712345678", None)
    with pytest.raises(LinkError, match="not you"):
        await people.link_with_contact(7001, None, "+254712345678", None)
    with pytest.raises(LinkError, match="No one with the number"):
        await people.link_with_contact(7001, 7001, "254799000111", None)
    assert await Person.filter(telegram_id=7001).count() == 0
    person = await people.link_with_contact(7001, 7001, "254712345678", "jane")
    assert person.telegram_id == 7001


async def test_one_telegram_account_cannot_hold_two_people(people: PeopleService) -> None:
    await people.add_person(
        name="Achieng Otieno", phone="0722000111", access=Access.MANAGER, telegram_id=42
    )
    await people.add_person(name="Jane Wanjiku", phone="0712345678")
    with pytest.raises(LinkError, match="already linked to Achieng Otieno"):
        await people.link_with_contact(42, 42, "0712345678", None)


async def _manager(people: PeopleService) -> Person:
    invite = await people.add_person(
        name="Achieng Otieno", phone="0700000001", access=Access.MANAGER, telegram_id=42
    )
    return invite.person


async def test_roster_is_for_managers_and_filters_by_role_or_name(people: PeopleService) -> None:
    boss = await _manager(people)
    jane = (
        await people.add_person(name="Jane Wanjiku", phone="0712345678", skills="rigger")
    ).person
    await people.add_person(name="Otieno Kamau", phone="0722111222", skills="Sound Engineer")
    gone = await people.add_person(name="Janet Rigger", phone="0733111222", skills="rigger")
    await people.set_active(boss, gone.person.id, False)
    with pytest.raises(NotAllowed, match="Only managers can see the crew list"):
        await people.roster(jane, "")
    assert [p.name for p in await people.roster(boss, "RIGGER")] == ["Jane Wanjiku"]
    assert [p.name for p in await people.roster(boss, "engineer")] == ["Otieno Kamau"]
    assert [p.name for p in await people.roster(boss, "jan")] == ["Jane Wanjiku"]
    assert len(await people.roster(boss, "  ")) == 3
    with pytest.raises(InvalidPerson, match="under 40 characters"):
        await people.roster(boss, "x" * 41)


async def test_edit_validates_like_addcrew_and_audits_old_and_new(
    people: PeopleService,
) -> None:
    boss = await _manager(people)
    jane = (await people.add_person(name="Jane Wanjiku", phone="0712345678")).person
    with pytest.raises(DuplicatePhone, match="already belongs to Achieng Otieno"):
        await people.edit(boss, jane.id, PersonField.PHONE, "0700 000 001")
    with pytest.raises(InvalidPhone):
        await people.edit(boss, jane.id, PersonField.PHONE, "0700")
    with pytest.raises(InvalidPerson, match="at least one role"):
        await people.edit(boss, jane.id, PersonField.ROLES, " , ")
    same = await people.edit(boss, jane.id, PersonField.PHONE, "+254 712 345 678")
    assert same.phone == "+254712345678"  # her own number again: no change, no audit
    edited = await people.edit(boss, jane.id, PersonField.EMAIL, "jane@example.com", chat_id=42)
    assert edited.email == "jane@example.com"
    cleared = await people.edit(boss, jane.id, PersonField.EMAIL, "-")
    assert cleared.email is None
    rows = await AuditLog.filter(action="person.edited").order_by("id")
    assert [(r.details["old"], r.details["new"], r.chat_id) for r in rows] == [
        ({"email": None}, {"email": "jane@example.com"}, 42),
        ({"email": "jane@example.com"}, {"email": None}, None),
    ]


async def test_a_manager_cannot_remove_themself_and_crew_cannot_change_anyone(
    people: PeopleService,
) -> None:
    boss = await _manager(people)
    jane = (await people.add_person(name="Jane Wanjiku", phone="0712345678")).person
    with pytest.raises(NotAllowed, match="cannot deactivate yourself"):
        await people.set_active(boss, boss.id, False)
    with pytest.raises(NotAllowed, match="own manager access"):
        await people.set_access(boss, boss.id, Access.CREW)
    for change in (
        people.set_active(jane, boss.id, False),
        people.set_access(jane, jane.id, Access.MANAGER),
        people.edit(jane, boss.id, PersonField.NAME, "Mallory"),
        people.new_link(jane, jane.id),
    ):
        with pytest.raises(NotAllowed, match="Only managers"):
            await change
    promoted = await people.set_access(boss, jane.id, Access.MANAGER)
    assert promoted.is_manager
    assert (await Person.get(id=boss.id)).is_manager


async def test_new_link_invalidates_older_unused_links(people: PeopleService) -> None:
    boss = await _manager(people)
    first = await people.add_person(name="Jane Wanjiku", phone="0712345678")
    second = await people.new_link(boss, first.person.id)
    with pytest.raises(LinkError, match="expired"):
        await people.link_with_token(first.link.rsplit("=", 1)[1], 5001, None)
    assert (await people.link_with_token(second.link.rsplit("=", 1)[1], 5001, None)).id == (
        first.person.id
    )
    await people.set_active(boss, first.person.id, False)
    assert await people.by_telegram_id(5001) is None
    with pytest.raises(NotAllowed, match="Reactivate them first"):
        await people.new_link(boss, first.person.id)
    with pytest.raises(PersonNotFound, match="no person #99"):
        await people.card(boss, 99)


async def test_a_deactivated_person_gets_nothing_queued_or_new(people: PeopleService) -> None:
    boss = await _manager(people)
    jane = await people.add_person(name="Jane Wanjiku", phone="0712345678", email="j@example.com")
    await people.link_with_contact(5001, 5001, "0712345678", None)
    jane_person = await Person.get(id=jane.person.id)
    notifier = people.notifier
    # A reminder waiting in the outbox when she is deactivated is not delivered.
    context = {"reason": "Telegram said 403", "since": people.clock.now(), "moved": 0}
    context |= {"who": boss, "phone": "+254 700 000 001"}
    queued = await notifier.notify(jane_person, NotificationKind.CHAT_UNREACHABLE, context)
    assert {row.status for row in queued} == {OutboxStatus.PENDING}

    done = await people.deactivate(boss, jane.person.id, chat_id=42)
    assert done.cancelled == [] and not done.person.active
    for row in await OutboxMessage.filter(id__in=[r.id for r in queued]):
        assert (row.status, row.last_error) == (
            OutboxStatus.SKIPPED,
            "not sent: person deactivated",
        )
    # Anything queued for her later is kept as a subject line in her history, never sent.
    gone = await Person.get(id=jane.person.id)
    assert await notifier.notify(gone, NotificationKind.CHAT_UNREACHABLE, context) == []
    held = await OutboxMessage.filter(person_id=gone.id).order_by("-id").first()
    assert held is not None and held.status is OutboxStatus.SKIPPED
    assert held.text == held.subject and "Call them" not in held.text
    assert held.chat_id is None and held.email_to is None
    # A live edit (a payment's status) is not even recorded.
    live = await notifier.notify(
        gone, NotificationKind.CHAT_UNREACHABLE, context, live_key="pay:1:payer"
    )
    assert live == [] and await OutboxMessage.filter(live_key="pay:1:payer").count() == 0
    assert await OutboxMessage.filter(status=OutboxStatus.PENDING, person_id=gone.id).count() == 0


async def test_deactivating_tells_each_other_manager_whose_event_lost_them(
    people: PeopleService, clock: ManualClock
) -> None:
    boss = await _manager(people)
    wanjiru = (
        await people.add_person(
            name="Wanjiru Mwangi", phone="0733000111", access=Access.MANAGER, telegram_id=43
        )
    ).person
    jane = (await people.add_person(name="Jane Wanjiku", phone="0712345678")).person
    starts = clock.now() + timedelta(days=3)
    events = [
        await Event.create(
            **stamp(Event, clock.now()),
            title=title,
            venue="KICC",
            starts_at=starts,
            ends_at=starts + timedelta(hours=5),
            call_at=starts - timedelta(hours=3),
            manager=manager,
        )
        for title, manager in (("Harusi", wanjiru), ("AGM", boss))
    ]
    for event in events:
        await Assignment.create(
            **stamp(Assignment, clock.now()),
            event=event,
            person=jane,
            role="rigger",
            status=AssignmentStatus.CONFIRMED,
        )
    done = await people.deactivate(boss, jane.id)
    assert [(line.event_title, line.status) for line in done.cancelled] == [
        ("Harusi", AssignmentStatus.CONFIRMED),
        ("AGM", AssignmentStatus.CONFIRMED),
    ]
    told = await OutboxMessage.filter(kind="crew_removed")
    assert [(m.chat_id, m.channel) for m in told] == [(43, Channel.TELEGRAM)]
    assert "Jane Wanjiku</b> was deactivated by Achieng Otieno" in told[0].text
    assert "they were confirmed as rigger" in told[0].text


async def test_one_lookup_finds_people_by_id_phone_or_name_with_accents_ignored(
    people: PeopleService,
) -> None:
    boss = await _manager(people)
    jose = (await people.add_person(name="José Mwangi", phone="0712345678")).person
    await people.add_person(name="Josephine Akinyi", phone="0712345679")
    assert (await PeopleService.find("jose mwangi")).id == jose.id
    assert (await PeopleService.find("#" + str(jose.id))).id == jose.id
    assert (await PeopleService.find("+254 712 345 678")).id == jose.id
    with pytest.raises(PersonNotFound, match=r"matches several people: José Mwangi \(#"):
        await PeopleService.find("jos")
    with pytest.raises(PersonNotFound, match="Nobody on the crew list is called “Wanjiru”"):
        await PeopleService.find("Wanjiru")
    await people.set_active(boss, jose.id, False)
    with pytest.raises(PersonNotFound, match="José Mwangi is deactivated"):
        await PeopleService.find(str(jose.id))
    assert (await PeopleService.find("jose m", among=Among.EVERYONE)).id == jose.id
    with pytest.raises(PersonNotFound, match="Nobody on the crew list is called “jose m”"):
        await PeopleService.find("jose m")
