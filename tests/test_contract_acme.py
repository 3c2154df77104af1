"""The plugin authors' contract suite, run against the core's own test vendor."""

import acme

from reelay.testing import VendorContract


class TestAcmeContract(VendorContract):
    vendor = "acme"
    text_model = "acme-1"
    image_model = "acme-1"
    plugins = (acme,)
    load_entry_points = False
