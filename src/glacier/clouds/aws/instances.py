"""EC2 instance types: the smallest Graviton type that fits a VM config, and its CPU; the glibc
of Amazon Linux 2023, which Lambda, EC2 and EMR Serverless 7.x run."""

from __future__ import annotations

import re

from glacier.clouds.aws.config import EC2Config
from glacier.errors import ConfigError

AL2023_GLIBC = (2, 34)
"""Amazon Linux 2023's glibc: wheels for AWS's runtimes may need up to ``manylinux_2_34``."""


def architecture(instance_type: str) -> str:
    """Graviton families carry a ``g`` after the generation digit: m7g, c7gn, t4g, x2gd."""
    family = instance_type.split(".", maxsplit=1)[0]
    match = re.fullmatch(r"[a-z]+\d+([a-z-]*)", family)
    return "arm64" if match and "g" in match.group(1) else "x86_64"


def instance_type(cpus: int, memory: int) -> str:
    """The smallest Graviton type with at least ``cpus`` and ``memory`` MB."""
    sizes = [(1, "medium"), (2, "large"), (4, "xlarge"), (8, "2xlarge"), (16, "4xlarge")]
    sizes += [(32, "8xlarge"), (48, "12xlarge"), (64, "16xlarge")]
    for n, size in sizes:
        for family, gb_per_cpu in (("c7g", 2), ("m7g", 4), ("r7g", 8)):
            if n >= cpus and n * gb_per_cpu * 1024 >= memory:
                return f"{family}.{size}"
    raise ConfigError(
        f"No EC2 Graviton type has {cpus} vCPUs and {memory} MB. Set EC2Config(instance_type=...)."
    )


def vm_instance_type(config: EC2Config) -> str:
    """The type a VM executor runs on: the one asked for, else the smallest that fits."""
    return config.instance_type or instance_type(config.cpus, config.memory)
