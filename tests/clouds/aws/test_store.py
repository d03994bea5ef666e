"""The S3 store: its clients load only when a bucket is opened."""

from __future__ import annotations

import subprocess
import sys


def test_cloud_clients_load_only_when_a_cloud_bucket_is_used() -> None:
    code = (  # modules loaded at start-up (a namespace package's .pth) are not glacier's doing
        "import sys\n"
        "before = set(sys.modules)\n"
        "import glacier\n"
        "from glacier.config import AwsConfig\n"
        "p = glacier.Provider(config=AwsConfig())\n"
        "p.bucket(bucket='raw', path='a.parquet')\n"
        "heavy = sorted(m for m in set(sys.modules) - before if m.split('.')[0] in "
        "{'obstore', 'boto3', 'botocore', 'azure', 'google'})\n"
        "assert not heavy, heavy\n"
        "p.store\n"
        "assert 'obstore' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
