// The routing lives in lib/route.js, next to this script.
var route = require("./lib/route");

function ksr_request_route() {
	route.handle();
}
