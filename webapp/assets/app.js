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
  show(0);
  document.addEventListener("keydown", function (e) {
    if (e.target.closest("input, textarea, select") || e.ctrlKey || e.metaKey || e.altKey) { return; }
    var row = rows[at];
    if (e.key === "j" || e.key === "n") { show(at + 1); }
    else if (e.key === "k") { show(at - 1); }
    else if (e.key === "c") { row.querySelector("form.confirm").submit(); }
    else if (e.key === "d") { row.querySelector("form.dismiss").submit(); }
    else if (e.key === "o" || e.key === "Enter") { window.location = row.querySelector("a.open").href; }
    else { return; }
    e.preventDefault();
  });
})();
