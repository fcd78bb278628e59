/* Filtering, sorting and keyboard navigation of the server-rendered exchanges. */
(function () {
  "use strict";
  var cards = Array.prototype.slice.call(document.querySelectorAll(".exchange"));
  var lists = Array.prototype.slice.call(document.querySelectorAll(".exchange-list"));
  var families = Array.prototype.slice.call(document.querySelectorAll('input[name="family"]'));
  var subtype = document.getElementById("f-subtype");
  var dimension = document.getElementById("f-dimension");
  var conf = document.getElementById("f-conf");
  var confOut = document.getElementById("f-conf-out");
  var sort = document.getElementById("f-sort");
  var compact = document.getElementById("f-compact");
  var reset = document.getElementById("f-reset");
  var status = document.getElementById("status");
  var printFilters = document.getElementById("print-filters");
  var current = null;

  function describe() {
    var parts = [];
    var fams = families.filter(function (f) { return f.checked; }).map(function (f) { return f.value; });
    if (fams.length < families.length) { parts.push("family: " + (fams.join(", ") || "none")); }
    if (subtype.value) { parts.push("subtype: " + subtype.options[subtype.selectedIndex].text); }
    if (dimension.value) { parts.push("dimension: " + dimension.value); }
    if (+conf.value > 0) { parts.push("confidence at least " + conf.value + "%"); }
    return parts.length ? "Filtered by " + parts.join("; ") + "." : "All flagged exchanges.";
  }

  function apply() {
    var fams = {};
    families.forEach(function (f) { fams[f.value] = f.checked; });
    var min = (+conf.value) / 100 - 1e-9;
    var shown = 0;
    cards.forEach(function (c) {
      var ok = fams[c.dataset.family] &&
        (!subtype.value || c.dataset.subtype === subtype.value) &&
        (!dimension.value || c.dataset.dimension === dimension.value) &&
        (+c.dataset.confidence >= min);
      c.hidden = !ok;
      if (ok) { shown += 1; }
    });
    lists.forEach(function (list) {
      var section = list.closest(".session");
      var total = list.children.length;
      var visible = list.querySelectorAll(".exchange:not([hidden])").length;
      var count = section.querySelector(".ex-count");
      count.textContent = visible === total ? "(" + total + ")" : "(" + visible + " of " + total + " shown)";
      section.querySelector(".none-shown").hidden = !(total > 0 && visible === 0);
    });
    confOut.textContent = conf.value + "%";
    status.textContent = "Showing " + shown + " of " + cards.length + " flagged exchanges";
    printFilters.textContent = describe();
    if (current && current.hidden) { setCurrent(null); }
  }

  function applySort() {
    var byConf = sort.value === "confidence";
    lists.forEach(function (list) {
      var items = Array.prototype.slice.call(list.children);
      items.sort(function (a, b) {
        if (byConf) {
          var d = (+b.dataset.confidence) - (+a.dataset.confidence);
          if (d !== 0) { return d; }
        }
        return (+a.dataset.order) - (+b.dataset.order);
      });
      items.forEach(function (item) { list.appendChild(item); });
    });
  }

  function setCurrent(card) {
    if (current) { current.classList.remove("current"); current.tabIndex = -1; }
    current = card;
    if (card) { card.classList.add("current"); card.tabIndex = 0; }
  }

  function move(step) {
    var visible = Array.prototype.slice.call(document.querySelectorAll(".exchange:not([hidden])"));
    if (!visible.length) { return; }
    var i = visible.indexOf(current);
    var next = i < 0 ? (step > 0 ? visible[0] : visible[visible.length - 1])
      : visible[Math.min(visible.length - 1, Math.max(0, i + step))];
    setCurrent(next);
    next.focus({ preventScroll: true });
    next.scrollIntoView({ block: "center" });
  }

  document.addEventListener("keydown", function (e) {
    if (e.altKey || e.ctrlKey || e.metaKey) { return; }
    var t = e.target;
    if (t.closest && t.closest("input, select, textarea, button, [contenteditable]")) { return; }
    var onCard = t.classList && t.classList.contains("exchange");
    if (e.key === "j" || (onCard && e.key === "ArrowDown")) { move(1); e.preventDefault(); }
    else if (e.key === "k" || (onCard && e.key === "ArrowUp")) { move(-1); e.preventDefault(); }
  });
  cards.forEach(function (c) {
    c.addEventListener("focus", function () { setCurrent(c); });
    c.addEventListener("click", function (e) {
      if (!window.getSelection().toString() && !e.target.closest("a")) { setCurrent(c); c.focus({ preventScroll: true }); }
    });
  });
  families.forEach(function (f) { f.addEventListener("change", apply); });
  [subtype, dimension].forEach(function (el) { el.addEventListener("change", apply); });
  conf.addEventListener("input", apply);
  sort.addEventListener("change", applySort);
  compact.addEventListener("change", function () { document.body.classList.toggle("compact", compact.checked); });
  reset.addEventListener("click", function () {
    families.forEach(function (f) { f.checked = true; });
    subtype.value = ""; dimension.value = ""; conf.value = 0; sort.value = "time";
    applySort(); apply();
  });
  document.querySelectorAll('.timeline a[href^="#ex-"]').forEach(function (a) {
    a.addEventListener("click", function (e) {
      var card = document.getElementById(a.getAttribute("href").slice(1));
      if (card && !card.hidden) { e.preventDefault(); setCurrent(card); card.focus({ preventScroll: true }); card.scrollIntoView({ block: "center" }); }
    });
  });
  applySort();
  apply();
}());
