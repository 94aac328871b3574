"""Running a batch: tasks on a pool of workers, results as they finish, resumable.

A task is finished when its result file exists (see `results.py`); a new run over the same output
folder skips finished tasks and redoes the rest from scratch. Ctrl-C (or SIGTERM) interrupts every
running `agent fix`, keeps the finished results, and leaves the rest for the next run.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from agent.batch.progress import Progress
from agent.batch.results import ResultStore, TaskResult
from agent.batch.tasks import Task
from agent.batch.worker import Children, RunSettings, Terminated, run_task
from agent.events import RunEvent

TICK_SECONDS = 1.0
INTERRUPT_GRACE_SECONDS = 5.0


def pending(tasks: Sequence[Task], store: ResultStore, retry_errors: bool = False) -> list[Task]:
    """Tasks without a finished result (and, with retry_errors, those that ended in an error)."""
    done = store.load()
    redo = {"error", "timeout"} if retry_errors else set()

    def finished(task: Task) -> bool:
        result = done.get(task.id)
        return result is not None and result.finished and result.status not in redo

    return [t for t in tasks if not finished(t)]


class BatchRunner:
    def __init__(
        self,
        tasks: Sequence[Task],
        settings: RunSettings,
        store: ResultStore,
        progress: Progress,
        workers: int,
    ) -> None:
        self.tasks = list(tasks)
        self.settings = settings
        self.store = store
        self.progress = progress
        self.workers = max(1, workers)
        self.children = Children()

    def run(self, todo: Sequence[Task]) -> list[TaskResult]:
        order = [t.id for t in self.tasks]
        pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="task")
        futures: set[Future[TaskResult]] = {pool.submit(self._one, task) for task in todo}
        try:
            while futures:
                done, futures = wait(futures, timeout=TICK_SECONDS, return_when=FIRST_COMPLETED)
                for future in done:
                    result = future.result()
                    if result.status != "interrupted":
                        self.store.save(result, order)
                    self.progress.finished(result)
                self.progress.redraw()
        except KeyboardInterrupt as exc:
            self.children.stop(grace=0.0 if isinstance(exc, Terminated) else INTERRUPT_GRACE_SECONDS)
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
        self.progress.close()
        results = self.store.load()
        return [results[i] for i in order if i in results]

    def _one(self, task: Task) -> TaskResult:
        self.progress.started(task.id)

        def on_event(event: RunEvent) -> None:
            self.progress.event(task.id, event)

        def phase(what: str) -> None:
            self.progress.phase(task.id, what)

        try:
            return run_task(task, self.settings, self.children, on_event, phase)
        except Exception as exc:  # a harness bug in one task must not stop the others; it is recorded
            return TaskResult(id=task.id, status="error", error=f"{type(exc).__name__}: {exc}")
