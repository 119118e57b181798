"""`Suspects`: the runs a crash interrupted start one at a time on a server."""

from deferred.records import TaskRecord, TaskStatus
from deferred.runtime.suspects import Suspects


def record(task_id: int, interruptions: int) -> TaskRecord:
    return TaskRecord(id=task_id, name="a", params={}, status=TaskStatus.RUNNING,
                      interruptions=interruptions)


def test_one_suspect_at_a_time_and_a_look_again_once_it_ends():
    suspects = Suspects()
    assert suspects.may_start_one()
    suspects.claimed([record(1, 0), record(2, 1)])
    assert not suspects.may_start_one()  # 2 is held here
    suspects.ended(1)
    assert not suspects.may_start_one()  # not a suspect: changes nothing
    suspects.ended(2)
    assert suspects.may_start_one()


def test_a_look_that_found_none_waits_for_the_next_reason_to_look():
    suspects = Suspects()
    suspects.none_due()
    assert not suspects.may_start_one()
    suspects.look_again()
    assert suspects.may_start_one()
    suspects.claimed([record(3, 0)])  # a claim of ordinary records holds no suspect
    assert suspects.may_start_one()
