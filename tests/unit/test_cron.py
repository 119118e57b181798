"""Crontab expressions: parsing, Vixie's day rule, and the next and previous firings in UTC."""

import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deferred.scheduling.cron import CronSchedule

UTC = datetime.timezone.utc


def at(year, month, day, hour=0, minute=0, second=0):
    return datetime.datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def next_after(expression, moment):
    return CronSchedule.parse(expression).next_after(moment)


# Parsing


def test_parse_keeps_the_expression_and_each_fields_values():
    schedule = CronSchedule.parse("15,30 7 * * *")
    assert schedule.expression == "15,30 7 * * *"
    assert schedule.describe() == "15,30 7 * * *"
    assert schedule.minutes == frozenset({15, 30})
    assert schedule.hours == frozenset({7})
    assert schedule.days_of_month == frozenset(range(1, 32))
    assert schedule.months == frozenset(range(1, 13))
    assert schedule.days_of_week == frozenset(range(7))


def test_schedule_is_frozen():
    schedule = CronSchedule.parse("* * * * *")
    with pytest.raises(AttributeError):
        schedule.expression = "0 * * * *"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("5", {5}),
        ("1,2,3", {1, 2, 3}),
        ("10-13", {10, 11, 12, 13}),
        ("*/15", {0, 15, 30, 45}),
        ("10-30/10", {10, 20, 30}),
        ("50/3", {50, 53, 56, 59}),
        ("1-3,*/20,59", {0, 1, 2, 3, 20, 40, 59}),
        ("7-7", {7}),
        ("0-59/59", {0, 59}),
    ],
)
def test_minute_field_accepts_numbers_lists_ranges_and_steps(field, expected):
    assert CronSchedule.parse(f"{field} * * * *").minutes == frozenset(expected)


def test_month_names_in_any_case_lists_and_ranges():
    assert CronSchedule.parse("0 0 1 JAN,jul,Dec *").months == frozenset({1, 7, 12})
    assert CronSchedule.parse("0 0 1 mar-may *").months == frozenset({3, 4, 5})
    assert CronSchedule.parse("0 0 1 jan-dec/3 *").months == frozenset({1, 4, 7, 10})


def test_day_names_in_any_case_lists_and_ranges():
    assert CronSchedule.parse("0 0 * * Mon-FRI").days_of_week == frozenset({1, 2, 3, 4, 5})
    assert CronSchedule.parse("0 0 * * sun,sat").days_of_week == frozenset({0, 6})


@pytest.mark.parametrize("sunday", ["0", "7", "sun", "SUN"])
def test_sunday_is_0_7_or_sun(sunday):
    schedule = CronSchedule.parse(f"0 12 * * {sunday}")
    assert schedule.days_of_week == frozenset({0})
    assert schedule.next_after(at(2025, 6, 2)) == at(2025, 6, 8, 12)  # 8 June 2025: a Sunday


def test_day_of_week_range_up_to_7_includes_sunday():
    assert CronSchedule.parse("0 0 * * 5-7").days_of_week == frozenset({5, 6, 0})


@pytest.mark.parametrize(
    ("alias", "equivalent"),
    [
        ("@hourly", "0 * * * *"),
        ("@daily", "0 0 * * *"),
        ("@weekly", "0 0 * * 0"),
        ("@monthly", "0 0 1 * *"),
        ("@yearly", "0 0 1 1 *"),
        ("@DAILY", "0 0 * * *"),
    ],
)
def test_aliases_mean_their_five_fields(alias, equivalent):
    schedule, expected = CronSchedule.parse(alias), CronSchedule.parse(equivalent)
    assert schedule.describe() == alias
    assert dataclass_values(schedule) == dataclass_values(expected)


def dataclass_values(schedule):
    return (schedule.minutes, schedule.hours, schedule.days_of_month, schedule.months,
            schedule.days_of_week, schedule.either_day_matches)


def test_extra_whitespace_between_fields_is_accepted():
    assert CronSchedule.parse("  0   7\t* * *  ").hours == frozenset({7})


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("61 * * * *", "cron '61 * * * *': minute: 61 is not from 0 to 59"),
        ("* 24 * * *", "cron '* 24 * * *': hour: 24 is not from 0 to 23"),
        ("* * 0 * *", "cron '* * 0 * *': day-of-month: 0 is not from 1 to 31"),
        ("* * 32 * *", "cron '* * 32 * *': day-of-month: 32 is not from 1 to 31"),
        ("* * * 13 *", "cron '* * * 13 *': month: 13 is not from 1 to 12"),
        ("* * * * 8", "cron '* * * * 8': day-of-week: 8 is not from 0 to 7"),
        ("* * *", "cron '* * *': expected 5 fields "
                  "(minute hour day-of-month month day-of-week), got 3"),
        ("", "cron '': expected 5 fields (minute hour day-of-month month day-of-week), got 0"),
        ("* * * * * *", "cron '* * * * * *': expected 5 fields "
                        "(minute hour day-of-month month day-of-week), got 6"),
        ("1,,2 * * * *", "cron '1,,2 * * * *': minute: empty item "
                         "(two commas in a row, or a comma at an end)"),
        ("* 1, * * *", "cron '* 1, * * *': hour: empty item "
                       "(two commas in a row, or a comma at an end)"),
        ("* 5-3 * * *", "cron '* 5-3 * * *': hour: range '5-3' is reversed: 5 is after 3"),
        ("*/0 * * * *", "cron '*/0 * * * *': minute: step 0 in '*/0' must be at least 1"),
        ("*/x * * * *", "cron '*/x * * * *': minute: step 'x' in '*/x' is not a number"),
        ("1/2/3 * * * *", "cron '1/2/3 * * * *': minute: step '2/3' in '1/2/3' is not a number"),
        ("x * * * *", "cron 'x * * * *': minute: 'x' is not a number"),
        ("-5 * * * *", "cron '-5 * * * *': minute: range '-5' needs a start and an end"),
        ("5- * * * *", "cron '5- * * * *': minute: range '5-' needs a start and an end"),
        ("*-5 * * * *", "cron '*-5 * * * *': minute: '*' is not a number"),
        ("١ * * * *", "cron '١ * * * *': minute: '١' is not a number"),
        ("* * * foo *", "cron '* * * foo *': month: 'foo' is not a number "
                        "or a month name (jan-dec)"),
        ("* * * * monday", "cron '* * * * monday': day-of-week: 'monday' is not a number "
                           "or a day name (sun-sat)"),
        ("* * * * sat-sun", "cron '* * * * sat-sun': day-of-week: range 'sat-sun' is reversed: "
                            "6 is after 0"),
        ("@often", "cron '@often': unknown alias '@often' "
                   "(known: @hourly, @daily, @midnight, @weekly, @monthly, @yearly, @annually)"),
        ("0 0 31 2 *", "cron '0 0 31 2 *': day-of-month: no day in 31 exists in month 2"),
        ("0 0 30,31 feb *", "cron '0 0 30,31 feb *': day-of-month: no day in 30,31 "
                            "exists in month 2"),
        ("0 0 31 4,6 *", "cron '0 0 31 4,6 *': day-of-month: no day in 31 exists in month 4,6"),
    ],
)
def test_parse_errors_name_the_field_and_the_problem(expression, message):
    with pytest.raises(ValueError) as caught:
        CronSchedule.parse(expression)
    assert str(caught.value) == message


# The day rule


def test_both_day_fields_restricted_fire_on_either():
    # the 13th, or any Friday
    schedule = CronSchedule.parse("0 0 13 * fri")
    assert schedule.either_day_matches
    assert schedule.next_after(at(2025, 6, 1)) == at(2025, 6, 6)  # Friday 6 June
    assert schedule.next_after(at(2025, 6, 10)) == at(2025, 6, 13)  # a Friday and the 13th
    assert schedule.next_after(at(2025, 7, 12)) == at(2025, 7, 13)  # Sunday the 13th


def test_star_day_of_week_leaves_only_day_of_month():
    schedule = CronSchedule.parse("0 0 13 * *")
    assert not schedule.either_day_matches
    assert schedule.next_after(at(2025, 6, 1)) == at(2025, 6, 13)


def test_star_day_of_month_leaves_only_day_of_week():
    schedule = CronSchedule.parse("0 0 * * fri")
    assert schedule.next_after(at(2025, 6, 1)) == at(2025, 6, 6)
    assert schedule.next_after(at(2025, 6, 6)) == at(2025, 6, 13)


def test_day_field_starting_with_star_and_a_step_needs_both_fields():
    # Vixie cron: a field starting with `*` turns the OR rule off, even with a step
    schedule = CronSchedule.parse("0 0 */2 * mon")
    assert not schedule.either_day_matches
    assert schedule.next_after(at(2025, 6, 1)) == at(2025, 6, 9)  # Monday 2 June: even day


def test_impossible_dates_are_fine_when_day_of_week_may_also_match():
    schedule = CronSchedule.parse("0 0 31 2 mon")
    assert schedule.next_after(at(2025, 2, 1)) == at(2025, 2, 3)


# next_after


def test_next_after_the_brief_example():
    schedule = CronSchedule.parse("15,30 7 * * *")
    assert schedule.next_after(at(2025, 1, 1, 7, 0)) == at(2025, 1, 1, 7, 15)
    assert schedule.next_after(at(2025, 1, 1, 7, 15)) == at(2025, 1, 1, 7, 30)
    assert schedule.next_after(at(2025, 1, 1, 7, 30)) == at(2025, 1, 2, 7, 15)


def test_next_after_is_strictly_after_a_matching_moment():
    assert next_after("* * * * *", at(2025, 1, 1, 0, 0)) == at(2025, 1, 1, 0, 1)
    assert next_after("0 0 * * *", at(2025, 1, 1)) == at(2025, 1, 2)


def test_next_after_drops_seconds_and_microseconds():
    moment = at(2025, 1, 1, 10, 20, 59).replace(microsecond=999_999)
    assert next_after("* * * * *", moment) == at(2025, 1, 1, 10, 21)
    assert next_after("20 10 * * *", moment) == at(2025, 1, 2, 10, 20)


def test_next_after_computes_in_utc_and_answers_in_utc():
    paris = datetime.timezone(datetime.timedelta(hours=2))
    moment = datetime.datetime(2025, 6, 1, 9, 0, tzinfo=paris)  # 07:00 UTC
    found = next_after("30 7 * * *", moment)
    assert found == at(2025, 6, 1, 7, 30)
    assert found.tzinfo == UTC


def test_next_after_rolls_over_the_hour_day_month_and_year():
    assert next_after("0 * * * *", at(2025, 1, 1, 10, 30)) == at(2025, 1, 1, 11)
    assert next_after("0 0 * * *", at(2025, 1, 31, 23, 59)) == at(2025, 2, 1)
    assert next_after("59 23 31 12 *", at(2025, 12, 31, 23, 59)) == at(2026, 12, 31, 23, 59)
    assert next_after("0 0 1 1 *", at(2025, 12, 31, 23, 59)) == at(2026, 1, 1)


def test_next_after_skips_months_without_the_day():
    assert next_after("0 0 31 * *", at(2025, 1, 31, 12)) == at(2025, 3, 31)
    assert next_after("0 0 30 * *", at(2025, 1, 30, 12)) == at(2025, 3, 30)


def test_february_29th_waits_for_a_leap_year():
    assert next_after("0 0 29 2 *", at(2025, 3, 1)) == at(2028, 2, 29)
    assert next_after("0 0 29 2 *", at(2024, 1, 1)) == at(2024, 2, 29)


def test_leap_day_skips_centuries_not_divisible_by_400():
    assert next_after("0 0 29 2 *", at(2097, 1, 1)) == at(2104, 2, 29)


def test_rare_combination_needing_both_fields_is_found_years_ahead():
    # 29 February on a Sunday (the `*` start keeps the AND rule)
    found = next_after("0 0 29 2 */7", at(2025, 1, 1))
    assert found == at(2032, 2, 29)
    assert found.isoweekday() == 7


def test_naive_moments_are_refused():
    schedule = CronSchedule.parse("* * * * *")
    with pytest.raises(ValueError, match="aware"):
        schedule.next_after(datetime.datetime(2025, 1, 1))
    with pytest.raises(ValueError, match="aware"):
        schedule.previous_at_or_before(datetime.datetime(2025, 1, 1))


def test_matches_checks_one_moment():
    schedule = CronSchedule.parse("15,30 7 * * mon")
    assert schedule.matches(at(2025, 6, 2, 7, 15, 42))
    assert not schedule.matches(at(2025, 6, 3, 7, 15))
    assert not schedule.matches(at(2025, 6, 2, 7, 16))


# previous_at_or_before


def test_previous_at_or_before_includes_the_moment_itself():
    schedule = CronSchedule.parse("15,30 7 * * *")
    assert schedule.previous_at_or_before(at(2025, 1, 2, 7, 30, 10)) == at(2025, 1, 2, 7, 30)
    assert schedule.previous_at_or_before(at(2025, 1, 2, 7, 29)) == at(2025, 1, 2, 7, 15)
    assert schedule.previous_at_or_before(at(2025, 1, 2, 7, 14)) == at(2025, 1, 1, 7, 30)


def test_previous_at_or_before_goes_back_over_months_and_leap_years():
    assert CronSchedule.parse("0 0 29 2 *").previous_at_or_before(at(2027, 6, 1)) == at(2024, 2, 29)
    assert CronSchedule.parse("45 23 31 * *").previous_at_or_before(at(2025, 5, 1)) == at(
        2025, 3, 31, 23, 45)


# Properties

MINUTE_ITEMS = st.sampled_from(["*", "0", "7", "59", "0-10", "*/15", "5-50/7", "30/11"])
HOUR_ITEMS = st.sampled_from(["*", "0", "23", "9-17", "*/6", "1-23/5", "12/4"])
DAY_ITEMS = st.sampled_from(["*", "1", "13", "29", "30", "31", "1-7", "*/10", "10/9", "28-31"])
MONTH_ITEMS = st.sampled_from(["*", "1", "feb", "2-3", "*/4", "jun-aug", "12", "11/1"])
WEEKDAY_ITEMS = st.sampled_from(["*", "0", "7", "mon", "1-5", "*/3", "sat-sat", "5/1"])


def field(items):
    return st.lists(items, min_size=1, max_size=3).map(",".join)


EXPRESSIONS = st.tuples(
    field(MINUTE_ITEMS), field(HOUR_ITEMS), field(DAY_ITEMS), field(MONTH_ITEMS),
    field(WEEKDAY_ITEMS),
).map(" ".join)
MOMENTS = st.datetimes(
    min_value=datetime.datetime(2024, 1, 1), max_value=datetime.datetime(2026, 12, 31),
    timezones=st.just(UTC),
)
WINDOW_DAYS = 40


def parse_or_none(expression):
    try:
        return CronSchedule.parse(expression)
    except ValueError:
        return None  # a valid-looking day and month that never meet, like `31 feb`


def brute_force_next(expression, moment):
    """The first firing after `moment` within the window, from the fields alone, or None."""
    schedule = CronSchedule.parse(expression)
    minute, hour, day_of_month, month, day_of_week = expression.split()
    either = not day_of_month.startswith("*") and not day_of_week.startswith("*")
    first_day = moment.date()
    for offset in range(WINDOW_DAYS + 1):
        day = first_day + datetime.timedelta(days=offset)
        by_month = day.day in schedule.days_of_month
        by_week = day.isoweekday() % 7 in schedule.days_of_week
        if day.month not in schedule.months or not (
            (by_month or by_week) if either else (by_month and by_week)
        ):
            continue
        for candidate_minute in range(24 * 60):
            candidate = at(day.year, day.month, day.day, *divmod(candidate_minute, 60))
            if (candidate > moment and candidate.hour in schedule.hours
                    and candidate.minute in schedule.minutes):
                return candidate
    return None


@settings(max_examples=300, deadline=None, database=None)
@given(EXPRESSIONS, MOMENTS)
def test_next_after_agrees_with_a_brute_force_search(expression, moment):
    schedule = parse_or_none(expression)
    if schedule is None:
        return
    expected = brute_force_next(expression, moment)
    if expected is not None:
        assert schedule.next_after(moment) == expected


@settings(max_examples=300, deadline=None, database=None)
@given(EXPRESSIONS, MOMENTS)
def test_previous_at_or_before_leaves_no_firing_until_the_moment(expression, moment):
    schedule = parse_or_none(expression)
    if schedule is None:
        return
    previous = schedule.previous_at_or_before(moment)
    assert previous <= moment
    assert schedule.matches(previous)
    assert schedule.next_after(previous) > moment
