"""Writers racing on one registry file: separate processes (and threads), released together by a barrier."""
import multiprocessing
from concurrent.futures import ThreadPoolExecutor

from pipelines.registry import APPROVED, LocalRegistry
from tests.pipelines.registry.conftest import GROUP

WORKERS = 6
CONTEXT = multiprocessing.get_context("fork")


def _approve(home, arn, name, barrier, results):
    barrier.wait()
    try:
        LocalRegistry(home=home).approve(arn, by=name, reason="race")
        results.put((name, "ok"))
    except Exception as error:  # reported to the parent, which asserts on the kinds
        results.put((name, type(error).__name__))


def _register(home, url, execution_id, barrier, results):
    barrier.wait()
    try:
        version = LocalRegistry(home=home).register(GROUP, url, execution_id=execution_id)
        results.put((execution_id, version.arn))
    except Exception as error:
        results.put((execution_id, type(error).__name__))


def _race(target, arguments):
    barrier, results = CONTEXT.Barrier(len(arguments)), CONTEXT.Queue()
    processes = [CONTEXT.Process(target=target, args=(*args, barrier, results)) for args in arguments]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=60) for _ in processes]
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    return outcomes


def test_concurrent_approvals_let_exactly_one_through(registry, stored_model, home):
    arn = registry.register(GROUP, stored_model("a")).arn
    outcomes = _race(_approve, [(home, arn, f"reviewer-{i}") for i in range(WORKERS)])

    kinds = sorted(kind for _, kind in outcomes)
    assert kinds == ["IllegalTransition"] * (WORKERS - 1) + ["ok"]
    winner = next(name for name, kind in outcomes if kind == "ok")
    version = registry.describe(arn)
    assert version.status == APPROVED
    assert version.approval_description == f"{winner}: race"
    assert [(e.to_status, e.by) for e in version.history[1:]] == [(APPROVED, winner)]


def test_concurrent_registrations_get_distinct_consecutive_versions(registry, stored_model, home):
    arguments = [(home, stored_model(f"exec-{i}"), f"exec-{i}") for i in range(WORKERS)]
    outcomes = _race(_register, arguments)

    arns = [arn for _, arn in outcomes]
    assert all(arn.startswith("arn:aws:sagemaker:local:") for arn in arns), arns
    assert len(set(arns)) == WORKERS
    versions = registry.list_versions(GROUP)
    assert [v.version for v in versions] == list(range(1, WORKERS + 1))
    assert sorted(v.execution_id for v in versions) == sorted(f"exec-{i}" for i in range(WORKERS))


def test_a_retried_execution_racing_itself_registers_once(registry, stored_model, home):
    url = stored_model("exec-retry")
    outcomes = _race(_register, [(home, url, "exec-retry")] * WORKERS)

    assert len({arn for _, arn in outcomes}) == 1
    assert len(registry.list_versions(GROUP)) == 1


def test_threads_share_the_guarantees(registry, stored_model, home):
    arn = registry.register(GROUP, stored_model("a")).arn

    def approve(i):
        try:
            LocalRegistry(home=home).approve(arn, by=f"thread-{i}", reason="race")
            return "ok"
        except Exception as error:
            return type(error).__name__

    with ThreadPoolExecutor(WORKERS) as pool:
        kinds = sorted(pool.map(approve, range(WORKERS)))
    assert kinds == ["IllegalTransition"] * (WORKERS - 1) + ["ok"]
