module.exports = { reason: "Module" };
