// Reviewer wellbeing: confirmed-abusive text stays blurred until clicked.
document.querySelectorAll(".blur").forEach(function (box) {
  box.addEventListener("click", function () { box.classList.remove("blur"); });
});
// Queue shortcuts: j / n next, k previous, c confirm, d dismiss, o or Enter open.
(function () {
  var rows = Array.prototype.slice.call(document.querySelectorAll("tr.queue-row"));
  if (!rows.length) { return; }
  var at = 0;
  function show(i) {
    rows[at].classList.remove("current");
    at = Math.max(0, Math.min(rows.length - 1, i));
    rows[at].classList.add("current");
    rows[at].scrollIntoView({block: "nearest"});
  }
  // After a decision the queue reloads without that case: stay at the same place in it.
  var kept = parseInt(window.sessionStorage.getItem("tagwatch-queue-at") || "0", 10);
  window.sessionStorage.removeItem("tagwatch-queue-at");
  show(isNaN(kept) ? 0 : kept);
  rows.forEach(function (r, i) {
    r.querySelectorAll("form").forEach(function (f) {
      f.addEventListener("submit", function () { window.sessionStorage.setItem("tagwatch-queue-at", String(i)); });
    });
  });
  document.addEventListener("keydown", function (e) {
    if (e.target.closest("input, textarea, select") || e.ctrlKey || e.metaKey || e.altKey) { return; }
    var row = rows[at];
    if (e.key === "j" || e.key === "n") { show(at + 1); }
    else if (e.key === "k") { show(at - 1); }
    else if (e.key === "c" || e.key === "d") {
      window.sessionStorage.setItem("tagwatch-queue-at", String(at));
      row.querySelector(e.key === "c" ? "form.confirm" : "form.dismiss").submit();
    }
    else if (e.key === "o" || e.key === "Enter") { window.location = row.querySelector("a.open").href; }
    else { return; }
    e.preventDefault();
  });
})();
