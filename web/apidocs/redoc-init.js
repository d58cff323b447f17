// Starts ReDoc on the document the page names (data-url): a file of its own, not an inline
// script, so the page's Content-Security-Policy can forbid inline scripts.
window.addEventListener("load", function () {
  var root = document.getElementById("redoc");
  Redoc.init(root.getAttribute("data-url"), {}, root);
});
