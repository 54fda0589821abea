// kiln: lets htmx 2 swap an error response (4xx/5xx) that the server retargeted with
// HX-Retarget (kiln's App::error_target), so a failed request shows its error in the app's
// message area instead of nothing. htmx 2 swaps no error response by default; htmx 4 swaps
// them by itself and does not need this. Written for kiln (not vendored); same licence as kiln.
document.addEventListener("htmx:beforeSwap", function (event) {
  var xhr = event.detail.xhr;
  if (xhr && xhr.status >= 400 && xhr.getResponseHeader("HX-Retarget")) {
    event.detail.shouldSwap = true;
  }
});
