"""Topic names (versioned), from the one declaration of every topic: ``data/topics.yaml``.

``Topics(prefix).<key>`` names the topic declared under ``<key>`` in that file (a function of the
country for a per-country topic); ``Topics(prefix).pattern(key)`` matches every country's topic.
Each entry also lists the event types it carries: a processor subscribes to the topics that carry
the event types it handles (``passerelle.processor.Handlers``).
Creating and updating topics on a broker: ``passerelle.topic_admin``.
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, Field, PositiveInt

from passerelle import PROJECT_ROOT
from passerelle.service import Service

#: Who reads or writes a topic: a service, or an operator's ``passerelle`` commands (the consent
#: registry tools, ``passerelle patient erase``).
OPERATOR = "operator"
Party = Service | Literal["operator"]


@dataclass(frozen=True)
class Topics:
    prefix: str = "passerelle"

    def __getattr__(self, key: str):
        """The topic declared under ``key`` in data/topics.yaml: ``Topics(p).alerts``. Resolved once
        per instance, then an ordinary attribute: services name a topic for every event they emit,
        and looking the declaration up each time was a measurable share of their CPU."""
        spec = declared_topics().get(key) if not key.startswith("_") else None
        if spec is None:
            raise AttributeError(f"no topic {key!r} in {topics_file()}")
        if spec.per_country:
            value = functools.partial(_per_country, f"{self.prefix}.", spec)
        else:
            value = f"{self.prefix}.{spec.name}"
        object.__setattr__(self, key, value)  # frozen: the name never changes for this prefix
        return value

    def pattern(self, key: str) -> str:
        """A regular expression matching the topic declared under ``key`` (every country's, for a
        per-country topic)."""
        spec = declared_topics()[key]
        name = re.escape(f"{self.prefix}.{spec.name}")
        return "^" + name.replace(re.escape("{country}"), "[a-z]{2}") + "$"

    def all(self, countries: list[str]) -> list[str]:
        """Every declared topic's name, per-country ones once per country."""
        return [f"{self.prefix}.{spec.topic_name(c)}" for spec in declared_topics().values()
                for c in (countries if spec.per_country else [None])]


def _per_country(prefix: str, spec: "TopicSpec", country: str) -> str:
    return prefix + spec.topic_name(country)


DEFAULT_TOPICS_FILE = PROJECT_ROOT / "data" / "topics.yaml"


def topics_file() -> Path:
    """Where the declaration lives; ``PASSERELLE_TOPICS_FILE`` overrides it (the image sets it)."""
    return Path(os.environ.get("PASSERELLE_TOPICS_FILE") or DEFAULT_TOPICS_FILE)


ConfigValue = Annotated[str, BeforeValidator(str)]


class TopicDefaults(BaseModel, extra="forbid"):
    partitions: PositiveInt
    replication_factor: PositiveInt
    config: dict[str, ConfigValue] = Field(default_factory=dict)


class TopicEntry(BaseModel, extra="forbid"):
    name: str = Field(pattern=r"^[a-z0-9.{}_-]+$")
    #: The event types (Avro full names) published on this topic.
    events: list[str] = Field(default_factory=list)
    #: The services that write and read it (``Service`` values, or ``operator``): their Kafka
    #: users' ACLs (``passerelle deploy strimzi``).
    producers: list[Party] = Field(default_factory=list)
    consumers: list[Party] = Field(default_factory=list)
    partitions: PositiveInt | None = None
    replication_factor: PositiveInt | None = None
    config: dict[str, ConfigValue] = Field(default_factory=dict)


class TopicsFile(BaseModel, extra="forbid"):
    defaults: TopicDefaults
    topics: dict[str, TopicEntry]

    def specs(self) -> dict[str, "TopicSpec"]:
        """Every declared topic by key, defaults applied."""
        return {key: self.spec(key, e) for key, e in self.topics.items()}

    def spec(self, key: str, entry: TopicEntry) -> "TopicSpec":
        d = self.defaults
        return TopicSpec(key, entry.name, entry.partitions or d.partitions,
                         entry.replication_factor or d.replication_factor, {**d.config, **entry.config},
                         tuple(entry.events), tuple(map(str, entry.producers)), tuple(map(str, entry.consumers)))


@dataclass(frozen=True)
class TopicSpec:
    """One declared topic, defaults applied; ``name`` has no prefix and may hold ``{country}``."""
    key: str
    name: str
    partitions: int
    replication_factor: int
    config: dict[str, str]
    events: tuple[str, ...] = ()
    producers: tuple[str, ...] = ()
    consumers: tuple[str, ...] = ()

    @property
    def per_country(self) -> bool:
        return "{country}" in self.name

    def topic_name(self, country: str | None = None) -> str:
        return self.name.format(country=country.lower()) if self.per_country else self.name


def load_topics_file(path: Path) -> TopicsFile:
    """The declaration; a malformed file raises pydantic's ValidationError naming the bad entry."""
    return TopicsFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


@functools.cache
def _cached(overridden: str | None) -> dict[str, TopicSpec]:
    return load_topics_file(Path(overridden) if overridden else DEFAULT_TOPICS_FILE).specs()


def declared_topics() -> dict[str, TopicSpec]:
    # keyed by the variable's value: no path is built for a lookup (services look topics up per event)
    return _cached(os.environ.get("PASSERELLE_TOPICS_FILE") or None)


def carrying(event_type: str) -> list[str]:
    """The keys of the topics that carry ``event_type``."""
    return [key for key, spec in declared_topics().items() if event_type in spec.events]
