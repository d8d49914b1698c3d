return { reason = "Module" }
