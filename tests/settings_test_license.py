"""ctserver's settings with the tests' license key: for server processes started by
license tests (DJANGO_SETTINGS_MODULE=tests.settings_test_license)."""

from ctserver.settings import *  # noqa: F403
from tests.support.licenses import TEST_PUBLIC_KEY

LICENSE_VERIFY_KEY = TEST_PUBLIC_KEY
