"""``passerelle topics apply``: make a broker's topics match ``data/topics.yaml``, idempotently.

Missing topics are created; a partition count lower than declared is raised; configuration keys
that differ are set (IncrementalAlterConfigs: keys not declared are left alone). Nothing is ever
deleted or lowered: partitions cannot shrink, and a replication change needs a reassignment, so
those are reported, not done. ``plan`` is pure; ``apply_topics`` reads the broker and carries it out.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from aiokafka.admin import NewPartitions, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import IncompatibleBrokerVersion, TopicAlreadyExistsError, for_code

from passerelle import kafka
from passerelle.countries import CountryRegistry
from passerelle.kafka_protocol import set_topic_configs
from passerelle.settings import Settings
from passerelle.topics import Topics, TopicsFile, load_topics_file


class TopicApplyError(RuntimeError):
    """The broker cannot be brought to the declared state; the message says what and why."""


@dataclass(frozen=True)
class Wanted:
    name: str  # full name, prefix included
    partitions: int
    replication_factor: int
    config: dict[str, str]


@dataclass(frozen=True)
class Current:
    partitions: int
    replication_factor: int
    config: dict[str, str]


@dataclass
class Plan:
    create: list[Wanted] = field(default_factory=list)
    partitions: dict[str, int] = field(default_factory=dict)  # topic → new total
    configs: dict[str, dict[str, str]] = field(default_factory=dict)  # topic → keys to set
    notes: list[str] = field(default_factory=list)  # what is reported but not changed

    def changes(self, current: dict[str, Current]) -> list[str]:
        lines = [f"created {w.name} ({w.partitions} partitions, replication {w.replication_factor})"
                 for w in self.create]
        lines += [f"partitions of {t}: {current[t].partitions} -> {n}" for t, n in self.partitions.items()]
        lines += [f"config of {t}: {k} {current[t].config.get(k, '(unset)')} -> {v}"
                  for t, keys in self.configs.items() for k, v in keys.items()]
        return lines


def wanted_topics(settings: Settings, declared: TopicsFile) -> tuple[list[Wanted], list[str]]:
    """The declared topics with this deployment's prefix and countries; plus any name ``Topics``
    spells that the file does not declare (created with the defaults, and said so)."""
    countries = CountryRegistry.load(settings.countries_file).connected_codes()
    prefix = settings.topic_prefix
    wanted = {}
    for spec in declared.specs().values():
        for country in (countries if spec.per_country else [None]):
            name = f"{prefix}.{spec.topic_name(country)}"
            wanted[name] = Wanted(name, spec.partitions, spec.replication_factor, spec.config)
    notes = []
    for name in Topics(prefix).all(countries):
        if name not in wanted:
            notes.append(f"{name} is not declared in {settings.topics_file.name}: the defaults apply")
            d = declared.defaults
            wanted[name] = Wanted(name, d.partitions, d.replication_factor, dict(d.config))
    if settings.topic_partitions:
        notes.append(f"{settings.topic_partitions} partition(s) per topic (topic_partitions), not the file's")
        wanted = {name: replace(w, partitions=settings.topic_partitions) for name, w in wanted.items()}
    return list(wanted.values()), notes


def fit_to_cluster(wanted: list[Wanted], brokers: int) -> tuple[list[Wanted], list[str]]:
    """A cluster of ``brokers`` cannot hold more replicas than brokers: lower replication and
    min.insync.replicas to what it can hold (the embedded broker has one)."""
    fitted, notes = [], []
    for w in wanted:
        if w.replication_factor > brokers:
            config = dict(w.config)
            if int(config.get("min.insync.replicas", 1)) > brokers:
                config["min.insync.replicas"] = str(brokers)
            w = replace(w, replication_factor=brokers, config=config)
            if not notes:
                notes.append(f"replication lowered to {brokers}: the cluster has {brokers} broker(s)")
        fitted.append(w)
    return fitted, notes


def plan(wanted: list[Wanted], current: dict[str, Current]) -> Plan:
    """What to do so that ``current`` matches ``wanted`` (pure: no I/O)."""
    result = Plan()
    for w in wanted:
        have = current.get(w.name)
        if have is None:
            result.create.append(w)
            continue
        if have.partitions < w.partitions:
            result.partitions[w.name] = w.partitions
        elif have.partitions > w.partitions:
            result.notes.append(f"{w.name} has {have.partitions} partitions, {w.partitions} declared: "
                                "partitions are never removed")
        if have.replication_factor != w.replication_factor:
            result.notes.append(f"{w.name} has replication {have.replication_factor}, {w.replication_factor} "
                                "declared: change it with a partition reassignment")
        differing = {k: v for k, v in w.config.items() if have.config.get(k) != v}
        if differing:
            result.configs[w.name] = differing
    return result


async def _current(admin, names: list[str]) -> dict[str, Current]:
    existing = set(await admin.list_topics())
    names = [n for n in names if n in existing]
    if not names:
        return {}
    described = {t["topic"]: t["partitions"] for t in await admin.describe_topics(names)}
    responses = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, n) for n in names])
    configs = {res[3]: {entry[0]: entry[1] for entry in res[4]}
               for response in responses for res in response.resources}
    return {n: Current(len(described[n]), len(described[n][0]["replicas"]) if described[n] else 0,
                       configs.get(n, {}))
            for n in names}


@dataclass
class ApplyResult:
    changes: list[str]
    notes: list[str]


async def apply_topics(settings: Settings, dry_run: bool = False) -> ApplyResult:
    """Bring the configured broker to the declared topics; return what changed and what was noted."""
    wanted, notes = wanted_topics(settings, load_topics_file(settings.topics_file))
    admin = kafka.admin(settings.kafka)
    await admin.start()
    try:
        wanted, fitted_notes = fit_to_cluster(wanted, len((await admin.describe_cluster())["brokers"]))
        current = await _current(admin, [w.name for w in wanted])
        todo = plan(wanted, current)
        result = ApplyResult(todo.changes(current), notes + fitted_notes + todo.notes)
        if not dry_run:
            await _carry_out(admin, todo)
        return result
    finally:
        await admin.close()


async def _carry_out(admin, todo: Plan) -> None:
    if todo.create:
        response = await admin.create_topics([NewTopic(w.name, w.partitions, w.replication_factor,
                                                       topic_configs=w.config) for w in todo.create])
        for topic, code, *message in response.topic_errors:
            # Already exists: another process created it first, from the same declaration.
            if code and code != TopicAlreadyExistsError.errno:
                raise for_code(code)(f"could not create {topic}: {message[0] if message else ''}")
    if todo.partitions:
        try:
            await admin.create_partitions({t: NewPartitions(n) for t, n in todo.partitions.items()})
        except IncompatibleBrokerVersion as exc:
            raise TopicApplyError(f"this broker cannot add partitions (no CreatePartitions API): "
                                  f"{', '.join(todo.partitions)}") from exc
    await set_topic_configs(admin, todo.configs)
