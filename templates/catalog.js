// Progressive enhancement: a text filter over the rows of the page (also from ?q=). Without
// JavaScript the page is complete and the browser's find works.
(function () {
  var form = document.getElementById("filter"), q = document.getElementById("q"), shown = document.getElementById("shown");
  if (!form || !q) return;
  var rows = Array.prototype.slice.call(document.querySelectorAll("tr.definition"));
  function apply() {
    var words = q.value.toLowerCase().split(/\s+/).filter(Boolean), visible = 0;
    rows.forEach(function (r) {
      var text = r.textContent.toLowerCase();
      r.hidden = !words.every(function (w) { return text.indexOf(w) >= 0; });
      if (!r.hidden) visible++;
    });
    shown.textContent = words.length ? visible + " of " + rows.length + " definitions" : "";
  }
  form.hidden = false;
  form.addEventListener("submit", function (e) { e.preventDefault(); });
  q.addEventListener("input", apply);
  var initial = new URLSearchParams(location.search).get("q");
  if (initial) q.value = initial;
  apply();
})();
