function ksr_request_route() {}
KSR.no_such_module.f(); // top level fails when the VM is built
