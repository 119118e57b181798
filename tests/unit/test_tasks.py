"""Both task styles end as registered BaseTask subclasses that run with checked params."""

import functools
import operator

import pytest

import deferred
from deferred.errors import InvalidParamsError, InvalidSchemaError, TaskDefinitionError
from deferred.tasks.registry import TaskRegistry


@pytest.fixture
def registry() -> TaskRegistry:
    return TaskRegistry()


def test_decorated_function_is_registered_and_still_callable(registry):
    @deferred.task(name="multiprint", registry=registry)
    def multi_print(msg, count=10):
        """Repeat a message."""
        return "\n".join(msg for _ in range(count))

    task_class = registry.get("multiprint")
    assert task_class.description == "Repeat a message."
    assert task_class().run(msg="hi", count=2) == "hi\nhi"
    assert multi_print("a", count=3) == "a\na\na"
    assert multi_print.name == "multiprint"
    assert multi_print.task_class is task_class
    assert multi_print.__name__ == "multi_print"


def test_bare_decorator_takes_the_function_name(registry):
    registry_task = deferred.task(registry=registry)

    @registry_task
    def hello():
        return "hi"

    assert registry.names() == ["hello"]

    @deferred.task
    def _bare_default_registry_task_for_test():
        return 1

    assert "_bare_default_registry_task_for_test" in deferred.default_registry


def test_subclass_with_self_runs(registry):
    class Multiply(deferred.BaseTask, registry=registry):
        name = "mult"

        def run(self, operands):
            return functools.reduce(operator.mul, operands)

    assert registry.get("mult")().run(operands=[3, 2, 8]) == 48


def test_subclass_whose_run_has_no_self_runs(registry):
    class Multiply(deferred.BaseTask, registry=registry):
        name = "mult"

        def run(operands):
            return functools.reduce(operator.mul, operands)

    assert Multiply().run(operands=[3, 2, 8]) == 48
    assert Multiply.param_spec.names == ("operands",)


def test_subclass_with_run_taking_nothing_runs(registry):
    class Ping(deferred.BaseTask, registry=registry):
        name = "ping"

        def run():
            return "pong"

    assert Ping().run() == "pong"


def test_subclass_without_name_is_refused(registry):
    with pytest.raises(TaskDefinitionError, match="needs its own `name`"):
        class Nameless(deferred.BaseTask, registry=registry):
            def run(self):
                return 1


def test_subclass_without_run_is_refused(registry):
    with pytest.raises(TaskDefinitionError, match=r"must define run\(\)"):
        class Lazy(deferred.BaseTask, registry=registry):
            name = "lazy"


def test_abstract_base_is_not_registered_but_its_subclasses_are(registry):
    class Base(deferred.BaseTask, abstract=True):
        def helper(self):
            return 2

    class Doubler(Base, registry=registry):
        name = "double"

        def run(self, x):
            return x * self.helper()

    assert registry.names() == ["double"]
    assert Doubler().run(x=4) == 8


@pytest.mark.parametrize("name", ["runserver", "help", "submit", "status", "cancel"])
def test_name_of_a_command_is_refused(registry, name):
    with pytest.raises(TaskDefinitionError, match=f"'{name}' is a command"):
        @deferred.task(name=name, registry=registry)
        def clash():
            pass


@pytest.mark.parametrize("name", ["", "-flag", ".hidden", "a b", "a/b", "x" * 101, 7])
def test_bad_names_are_refused(registry, name):
    with pytest.raises(TaskDefinitionError):
        @deferred.task(name=name, registry=registry)
        def bad():
            pass


def test_duplicate_name_from_elsewhere_is_refused_naming_both(registry):
    @deferred.task(name="dup", registry=registry)
    def first():
        pass

    with pytest.raises(TaskDefinitionError, match=r"'dup' is already taken by \S*first \(") as info:
        @deferred.task(name="dup", registry=registry)
        def second():
            pass
    assert "second" in str(info.value)


def test_same_definition_again_replaces_the_first(registry):
    def define():
        @deferred.task(name="again", registry=registry)
        def again():
            return 1
        return again

    first, second = define(), define()
    assert registry.get("again") is second.task_class is not first.task_class


def test_bad_schema_is_refused_naming_task_and_keyword(registry):
    with pytest.raises(InvalidSchemaError) as info:
        class Multiply(deferred.BaseTask, registry=registry):
            name = "mult"
            json_schema = {"type": "object",
                           "properties": {"operands": {"type": "array", "minItems": "1"}}}

            def run(operands):
                return 1
    message = str(info.value)
    assert message.startswith("task 'mult': invalid JSON Schema at ")
    assert "$.properties.operands.minItems" in message
    assert registry.names() == []


def test_schema_property_run_cannot_take_is_refused(registry):
    with pytest.raises(TaskDefinitionError, match="schema property 'count' is not a parameter"):
        @deferred.task(name="t", registry=registry,
                       json_schema={"type": "object", "properties": {"count": {}}})
        def t(msg):
            pass


def test_schema_properties_are_fine_when_run_takes_kwargs(registry):
    @deferred.task(name="t", registry=registry,
                   json_schema={"type": "object", "properties": {"count": {}}})
    def t(**params):
        return params

    assert t.task_class.check_params({"count": 1}) == {"count": 1}


def test_positional_only_parameter_without_default_is_refused(registry):
    with pytest.raises(TaskDefinitionError, match="positional-only"):
        @deferred.task(name="t", registry=registry)
        def t(a, /):
            pass


def test_check_params_uses_schema_then_signature(registry):
    @deferred.task(name="multiprint", registry=registry,
                   json_schema={"type": "object",
                                "properties": {"msg": {"type": "string"},
                                               "count": {"type": "integer", "minimum": 1}},
                                "required": ["msg"]})
    def multi_print(msg, count=1):
        pass

    check = multi_print.task_class.check_params
    assert check({"msg": "a"}) == {"msg": "a"}
    with pytest.raises(InvalidParamsError) as info:
        check({"msg": "a", "count": -1})
    assert str(info.value) == "$.count: -1 is less than the minimum of 1"
    assert info.value.where == "$.count"
    with pytest.raises(InvalidParamsError, match=r"^\$: 'msg' is a required property$"):
        check({})
    with pytest.raises(InvalidParamsError, match="unknown parameter 'other'"):
        check({"msg": "a", "other": 1})  # the schema allows it; run() does not


def test_task_without_schema_reports_unknown_and_missing_params(registry):
    @deferred.task(name="plain", registry=registry)
    def plain(a, b=2):
        pass

    check = plain.task_class.check_params
    with pytest.raises(InvalidParamsError, match=r"unknown parameter 'c' \(the task takes: a, b\)"):
        check({"a": 1, "c": 3})
    with pytest.raises(InvalidParamsError, match="missing required parameter 'a'"):
        check({"b": 1})
    with pytest.raises(InvalidParamsError, match="params must be a JSON object, got array"):
        check([1])
