// Small behaviours the server-rendered pages need; htmx does the rest.
(function () {
  "use strict";

  // A lookup picker: choosing an option fills the hidden id and the visible name.
  document.addEventListener("click", function (event) {
    var option = event.target.closest("button.option");
    if (!option) return;
    var picker = option.closest(".lookup");
    picker.querySelector("[data-lookup-value]").value = option.dataset.id;
    var search = picker.querySelector("[data-lookup-search]");
    search.value = option.dataset.label;
    picker.querySelector(".options").innerHTML = "";
    search.focus();
    search.dispatchEvent(new Event("change", { bubbles: true }));
  });

  // Clearing a lookup's text clears its id too.
  document.addEventListener("input", function (event) {
    var search = event.target.closest("[data-lookup-search]");
    if (search && search.value === "") {
      search.closest(".lookup").querySelector("[data-lookup-value]").value = "";
    }
  });

  // Tabs on the detail page, usable with the keyboard (arrow keys move between tabs).
  function selectTab(tab) {
    var list = tab.closest("[role=tablist]");
    list.querySelectorAll("[role=tab]").forEach(function (other) {
      var selected = other === tab;
      other.setAttribute("aria-selected", selected ? "true" : "false");
      document.getElementById(other.getAttribute("aria-controls")).hidden = !selected;
    });
    tab.focus();
  }
  document.addEventListener("click", function (event) {
    var tab = event.target.closest("[data-tab]");
    if (tab) selectTab(tab);
  });
  document.addEventListener("keydown", function (event) {
    var tab = event.target.closest("[data-tab]");
    if (!tab || (event.key !== "ArrowRight" && event.key !== "ArrowLeft")) return;
    var tabs = Array.prototype.slice.call(tab.closest("[role=tablist]").querySelectorAll("[role=tab]"));
    var next = tabs[(tabs.indexOf(tab) + (event.key === "ArrowRight" ? 1 : tabs.length - 1)) % tabs.length];
    selectTab(next);
    event.preventDefault();
  });
  // Charts of the home page's widgets and of reports (their numbers are also in a table beside them). A chart's
  // data-chart names its type (bar when it names none), the labels along it and one series per dataset.
  var KINDS = {bar: "bar", stacked_bar: "bar", funnel: "bar", line: "line", pie: "pie", donut: "doughnut"};
  function drawCharts(root) {
    if (!window.Chart || !root.querySelectorAll) return;
    root.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      if (window.Chart.getChart(canvas)) return;
      var data = JSON.parse(canvas.dataset.chart);
      var kind = data.type || "bar", round = kind === "pie" || kind === "donut", many = data.series.length > 1;
      var options = {plugins: {legend: {display: many || round, position: "bottom"}}, animation: false,
                     maintainAspectRatio: !data.type};  // a report's chart fills its box, whose height the stylesheet sets
      if (kind === "stacked_bar") options.scales = {x: {stacked: true}, y: {stacked: true, beginAtZero: true}};
      if (kind === "funnel") options.indexAxis = "y";
      new window.Chart(canvas, {
        type: KINDS[kind] || "bar",
        data: {labels: data.labels, datasets: data.series.map(function (s) {
          var colors = !data.type || round || kind === "funnel" ? data.colors : s.color;
          return {label: s.label, data: s.values, backgroundColor: colors, borderColor: kind === "line" ? s.color : undefined,
                  fill: false, tension: 0.2};
        })},
        options: options
      });
    });
  }
  document.addEventListener("DOMContentLoaded", function () { drawCharts(document); });
  document.addEventListener("htmx:load", function (event) { drawCharts(event.detail.elt); });
})();

// Kanban: drag a card from anywhere on it (mouse, pen or touch) onto another column; the drop sends the
// same form as the card's menu. Pointer events rather than HTML drag and drop, which touch screens lack.
(function () {
  "use strict";
  var drag = null;
  var THRESHOLD = 6;  // pixels moved before a press becomes a drag (a tap still follows the card's link)
  function columnAt(x, y) {
    var under = document.elementFromPoint(x, y);
    return under && under.closest(".board .column");
  }
  function mark(column) {
    document.querySelectorAll(".board .column.drop-target").forEach(function (c) { if (c !== column) c.classList.remove("drop-target"); });
    if (column) column.classList.add("drop-target");
  }
  document.addEventListener("pointerdown", function (event) {
    var card = event.target.closest && event.target.closest(".board .card[data-draggable]");
    if (!card || event.button !== 0 || event.target.closest("select, button, input, label")) return;
    drag = {card: card, x: event.clientX, y: event.clientY, moving: false, pointer: event.pointerId};
  });
  document.addEventListener("pointermove", function (event) {
    if (!drag || event.pointerId !== drag.pointer) return;
    var dx = event.clientX - drag.x, dy = event.clientY - drag.y;
    if (!drag.moving && Math.abs(dx) + Math.abs(dy) < THRESHOLD) return;
    drag.moving = true;
    drag.card.classList.add("dragging");
    drag.card.style.transform = "translate(" + dx + "px, " + dy + "px)";
    mark(columnAt(event.clientX, event.clientY));
    event.preventDefault();
  });
  function drop(event) {
    if (!drag || event.pointerId !== drag.pointer) return;
    var card = drag.card, moving = drag.moving;
    drag = null;
    card.classList.remove("dragging");
    card.style.transform = "";
    mark(null);
    if (!moving) return;
    card.classList.add("was-dragged");
    setTimeout(function () { card.classList.remove("was-dragged"); }, 0);
    var column = event.type === "pointerup" ? columnAt(event.clientX, event.clientY) : null;
    var select = card.querySelector("select[name=value]");
    if (!column || !select || select.value === column.dataset.value) return;
    select.value = column.dataset.value;
    select.dispatchEvent(new Event("change", { bubbles: true }));
  }
  document.addEventListener("pointerup", drop);
  document.addEventListener("pointercancel", drop);
  // A drag that ended on the card's own link must not also open it.
  document.addEventListener("click", function (event) {
    var card = event.target.closest && event.target.closest(".board .card.was-dragged");
    if (card) { event.preventDefault(); card.classList.remove("was-dragged"); }
  }, true);
  document.addEventListener("dragstart", function (event) {
    if (event.target.closest && event.target.closest(".board .card[data-draggable]")) event.preventDefault();
  });
})();

// The list's selection: "select all on this page" ticks every row; unticking a row unticks it. The bar of
// mass actions shows only while something is selected (without JavaScript it is always there), with the count.
function showMassBar(form) {
  var bar = form.querySelector("[data-mass-bar]");
  if (!bar) return;
  var ticked = form.querySelectorAll("[data-select-row]:checked").length;
  var matching = form.querySelector("[data-select-matching] input");
  var all = form.querySelector("[data-select-all]");
  var whole = all && all.checked;
  bar.hidden = ticked === 0;
  if (matching) {
    matching.closest("[data-select-matching]").hidden = !whole;
    if (!whole) matching.checked = false;
  }
  var count = bar.querySelector("[data-selected-count]");
  var total = document.getElementById("match-count");
  var n = matching && matching.checked && total ? total.dataset.count : String(ticked);
  if (count) count.textContent = "(" + (n === "1" ? count.dataset.one : count.dataset.many.replace("{n}", n)) + ")";
}
document.addEventListener("change", function (event) {
  var box = event.target;
  var form = box.closest && box.closest("form[data-mass]");
  if (!form) return;
  if (box.matches("[data-select-all]")) {
    form.querySelectorAll("[data-select-row]").forEach(function (row) { row.checked = box.checked; });
  } else if (box.matches("[data-select-row]") && !box.checked) {
    var all = form.querySelector("[data-select-all]");
    if (all) all.checked = false;
  }
  showMassBar(form);
});
function showMassBars() { document.querySelectorAll("form[data-mass]").forEach(showMassBar); }
document.addEventListener("DOMContentLoaded", showMassBars);
document.addEventListener("htmx:afterSettle", showMassBars);

// A form with data-confirm asks before it is sent; a control with data-autosubmit sends its form when changed.
// (In this file rather than in inline handlers: the pages' Content-Security-Policy runs no inline script.)
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (form.dataset && form.dataset.confirm && !window.confirm(form.dataset.confirm)) event.preventDefault();
});
document.addEventListener("change", function (event) {
  var control = event.target;
  if (control.matches && control.matches("[data-autosubmit]") && control.form) control.form.submit();
});

// On a narrow screen the list's views and filters start folded away, above the records.
document.addEventListener("DOMContentLoaded", function () {
  if (!window.matchMedia("(max-width: 900px)").matches) return;
  document.querySelectorAll("details[data-closed-on-phone]").forEach(function (d) {
    if (!d.querySelector("details[open]")) d.open = false;  // unless a filter is in use
  });
});

// The side bar: collapsed to its icons on a wide screen (remembered in this browser), a drawer on a narrow one.
(function () {
  "use strict";
  var KEY = "tessera.sidebar";
  function collapse(collapsed) {
    document.body.classList.toggle("sidebar-collapsed", collapsed);
    document.querySelectorAll("[data-sidebar-collapse]").forEach(function (b) { b.setAttribute("aria-expanded", collapsed ? "false" : "true"); });
  }
  function drawer(open) {
    document.body.classList.toggle("drawer-open", open);
    document.querySelectorAll("[data-drawer-open]").forEach(function (b) { b.setAttribute("aria-expanded", open ? "true" : "false"); });
    var shade = document.querySelector("[data-drawer-close]");
    if (shade) shade.hidden = !open;
    if (open) { var first = document.querySelector("#sidebar a"); if (first) first.focus(); }
  }
  document.addEventListener("DOMContentLoaded", function () {
    try { collapse(window.localStorage.getItem(KEY) === "collapsed"); } catch (e) { /* storage refused: stay open */ }
  });
  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-sidebar-collapse]")) {
      var collapsed = !document.body.classList.contains("sidebar-collapsed");
      collapse(collapsed);
      try { window.localStorage.setItem(KEY, collapsed ? "collapsed" : "open"); } catch (e) { /* not remembered */ }
    } else if (event.target.closest("[data-drawer-open]")) {
      drawer(true);
    } else if (event.target.closest("[data-drawer-close]")) {
      drawer(false);
    }
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && document.body.classList.contains("drawer-open")) {
      drawer(false);
      var toggle = document.querySelector("[data-drawer-open]");
      if (toggle) toggle.focus();
    }
  });
})();

// The top bar's search box: Ctrl/Cmd-K focuses it from anywhere; its suggestions (an htmx fragment, a listbox
// grouped by object) are chosen with the arrow keys and opened with Enter; Escape closes them. Enter with no
// suggestion chosen sends the form: the full results page.
(function () {
  "use strict";
  function box() { return document.getElementById("top-search"); }
  function panel() { return document.getElementById("top-search-results"); }
  function options() { return Array.prototype.slice.call(panel().querySelectorAll("[role=option]")); }
  function active() { return panel().querySelector("[role=option].active"); }

  function choose(option) {
    options().forEach(function (other) {
      var chosen = other === option;
      other.classList.toggle("active", chosen);
      other.setAttribute("aria-selected", chosen ? "true" : "false");
    });
    if (option) {
      box().setAttribute("aria-activedescendant", option.id);
      option.scrollIntoView({block: "nearest"});
    } else {
      box().removeAttribute("aria-activedescendant");
    }
  }
  function close() {
    var results = panel();
    if (!results) return;
    results.hidden = true;
    box().setAttribute("aria-expanded", "false");
    choose(null);
  }
  function open() {
    var results = panel();
    results.hidden = results.innerHTML.trim() === "";
    box().setAttribute("aria-expanded", results.hidden || !options().length ? "false" : "true");
    choose(null);
  }

  document.addEventListener("keydown", function (event) {
    if ((event.ctrlKey || event.metaKey) && !event.altKey && (event.key === "k" || event.key === "K") && box()) {
      event.preventDefault();
      box().focus();
      box().select();
    }
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "top-search-results") open();
  });
  document.addEventListener("input", function (event) {
    if (event.target.id === "top-search" && event.target.value.trim() === "") {
      panel().innerHTML = "";
      close();
    }
  });
  document.addEventListener("keydown", function (event) {
    if (event.target.id !== "top-search") return;
    var list = options(), current = active(), index = list.indexOf(current);
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      if (panel().hidden || !list.length) return;
      event.preventDefault();
      var step = event.key === "ArrowDown" ? 1 : -1;
      choose(list[(index + step + list.length + (index < 0 && step < 0 ? 1 : 0)) % list.length]);
    } else if (event.key === "Enter" && current && !panel().hidden) {
      event.preventDefault();
      window.location.assign(current.dataset.href);
    } else if (event.key === "Escape" && !panel().hidden) {
      event.preventDefault();
      close();
    }
  });
  document.addEventListener("click", function (event) {
    var option = event.target.closest && event.target.closest("#top-search-results [role=option]");
    if (option) {
      window.location.assign(option.dataset.href);
    } else if (panel() && !(event.target.closest && event.target.closest("[data-top-search]"))) {
      close();
    }
  });
})();

// A value to copy (a new API token) is selected whole when focused.
document.addEventListener("focusin", function (event) {
  if (event.target.matches && event.target.matches("[data-select-on-focus]")) event.target.select();
});

// The record page: a field's value opens its input when clicked (its pencil link does it with the keyboard),
// Escape closes the input without saving, and a form that htmx just put on the page gets the focus.
document.addEventListener("click", function (event) {
  var value = event.target.closest && event.target.closest("[data-inline-value]");
  if (!value || event.target.closest("a")) return;
  var pencil = value.parentElement.querySelector("[data-inline-pencil]");
  if (pencil) pencil.click();
});
document.addEventListener("keydown", function (event) {
  if (event.key !== "Escape") return;
  var form = event.target.closest && event.target.closest("form[data-inline-edit]");
  if (!form) return;
  var cancel = form.querySelector("[data-inline-cancel]");
  if (cancel) { event.preventDefault(); cancel.click(); }
});
document.addEventListener("htmx:load", function (event) {
  var root = event.detail && event.detail.elt;
  if (!root || !root.querySelector) return;
  var form = root.matches("dd.editing, td.editing") ? root.querySelector("form") : root.querySelector("form[data-composer]");
  if (!form) return;
  var first = form.querySelector("input:not([type=hidden]):not([readonly]), select, textarea");
  if (first) first.focus();
});
// A list's cell: its pencil (a plain link to the field's input, which works without JavaScript) opens the input in
// place of the cell, sending the version of the record the row shows (its hidden input #version-<id>), so that a
// change made meanwhile is a conflict; "data-link" marks the row's first cell, which links to the record. One
// listener serves every pencil: a list draws hundreds of them, and a cell drawn again needs nothing done to it.
// Double-clicking a cell's value opens its input too. When the cell comes back (saved, or cancelled) its pencil is
// marked, and the focus returns to it as on the record page.
document.addEventListener("click", function (event) {
  var pencil = event.target.closest && event.target.closest("a[data-cell-pencil]");
  if (!pencil || !window.htmx || event.button > 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
  var cell = pencil.closest("td[id]");
  if (!cell) return;
  event.preventDefault();
  var address = pencil.getAttribute("href");
  var version = document.getElementById("version-" + address.split("/")[3]);  // /r/<object>/<id>/field/<name>
  window.htmx.ajax("GET", address + "?in=cell" + (pencil.hasAttribute("data-link") ? "&link=1" : ""),
                   {source: pencil, target: cell, swap: "outerHTML", values: version ? {version: version.value} : {}});
});
document.addEventListener("dblclick", function (event) {
  var value = event.target.closest && event.target.closest("[data-cell-value]");
  if (!value || event.target.closest("a")) return;
  var pencil = value.parentElement.querySelector("[data-cell-pencil]");
  if (pencil) pencil.click();
});

// The column chooser: each column moves up or down the list (the order the list will show them in), and the
// button pressed keeps the focus.
document.addEventListener("click", function (event) {
  var button = event.target.closest && event.target.closest("[data-column-move]");
  if (!button) return;
  var item = button.closest("[data-column]");
  if (!item) return;
  if (button.getAttribute("data-column-move") === "up" && item.previousElementSibling) {
    item.parentNode.insertBefore(item, item.previousElementSibling);
  } else if (button.getAttribute("data-column-move") === "down" && item.nextElementSibling) {
    item.parentNode.insertBefore(item.nextElementSibling, item);
  }
  button.focus();
});

// After a field is saved the whole record is drawn again: the keyboard goes back to that field's pencil, marked by
// the server. The mark is kept until the pencil really has the focus, and for a moment after that the focus is put
// back if it falls to the page (parts of the record settle one after another, each may take the focus with it).
// A marked pencil is taken up on htmx:load, which comes once htmx has made the new content work: focused before
// that, Enter on it would follow its address as a plain link instead of opening the input in place.
(function () {
  "use strict";
  var MARK = "data-focus-after-swap", WATCH_MS = 1000;
  var wanted = null, until = 0, timer = null;
  function fellToPage() {
    var active = document.activeElement;
    return !active || active === document.body || !active.isConnected;
  }
  function keep() {
    if (!wanted || !wanted.isConnected || Date.now() > until) { wanted = null; return; }
    if (document.activeElement !== wanted && (wanted.hasAttribute(MARK) || fellToPage())) wanted.focus();
    if (document.activeElement === wanted) wanted.removeAttribute(MARK);
    window.clearTimeout(timer);
    timer = window.setTimeout(keep, 50);
  }
  document.addEventListener("htmx:load", function (event) {
    var root = event.detail && event.detail.elt;
    if (!root || !root.querySelector) return;
    var marked = root.matches("[" + MARK + "]") ? root : root.querySelector("[" + MARK + "]");
    if (marked) { wanted = marked; until = Date.now() + WATCH_MS; }
    keep();
  });
  document.addEventListener("htmx:afterSettle", keep);
})();

// The browser's time zone, for times shown to a user who has not chosen one in their profile.
(function () {
  "use strict";
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone && document.cookie.indexOf("tessera_tz=" + encodeURIComponent(zone)) === -1) {
      document.cookie = "tessera_tz=" + encodeURIComponent(zone) + "; path=/; max-age=31536000; SameSite=Lax";
    }
  } catch (e) { /* no Intl: times stay in UTC */ }
})();

// The bell's panel closes when anything else on the page is clicked, and with Escape (the focus goes back to the bell).
document.addEventListener("click", function (event) {
  document.querySelectorAll("details[data-notif-menu][open]").forEach(function (menu) {
    if (!menu.contains(event.target)) menu.open = false;
  });
});
document.addEventListener("keydown", function (event) {
  if (event.key !== "Escape") return;
  var menu = document.querySelector("details[data-notif-menu][open]");
  if (!menu) return;
  menu.open = false;
  menu.querySelector("summary").focus();
});

// The composer's description: after "@" and a letter or more, the people whose login or name holds them are offered
// (GET /mentions); the arrow keys move through them, Enter or Tab (or a click) puts "@login " in the text, Escape
// closes them. Typing goes on as usual whatever is offered.
(function () {
  "use strict";
  var TOKEN = /(^|[^A-Za-z0-9_.+\-@])@([^\s@"“]{1,60})$/;
  var timer = null, asked = 0;
  function boxFor(area) { var field = area.closest && area.closest(".field"); return field && field.querySelector("[data-mention-options]"); }
  function options(box) { return Array.prototype.slice.call(box.querySelectorAll("[role=option]")); }
  function choose(area, box, option) {
    options(box).forEach(function (o) {
      var on = o === option;
      o.classList.toggle("active", on);
      o.setAttribute("aria-selected", on ? "true" : "false");
    });
    if (option) area.setAttribute("aria-activedescendant", option.id); else area.removeAttribute("aria-activedescendant");
  }
  function close(area, box) { box.hidden = true; box.innerHTML = ""; area.removeAttribute("aria-activedescendant"); }
  function put(area, box, option) {
    var before = area.value.slice(0, area.selectionStart), after = area.value.slice(area.selectionEnd);
    var text = before.slice(0, before.lastIndexOf("@")) + "@" + option.dataset.login + " ";
    area.value = text + after;
    area.selectionStart = area.selectionEnd = text.length;
    close(area, box);
    area.focus();
  }
  document.addEventListener("input", function (event) {
    var area = event.target;
    if (!area.matches || !area.matches("textarea")) return;
    var box = boxFor(area);
    if (!box) return;
    var found = TOKEN.exec(area.value.slice(0, area.selectionStart));
    window.clearTimeout(timer);
    if (!found) { close(area, box); return; }
    timer = window.setTimeout(function () {
      var ask = ++asked;
      window.fetch("/mentions?q=" + encodeURIComponent(found[2]), {credentials: "same-origin", headers: {"HX-Request": "true"}})
        .then(function (answer) { return answer.ok ? answer.text() : ""; })
        .then(function (html) {
          if (ask !== asked) return;  // a later keystroke asked again
          box.innerHTML = html;
          box.hidden = !options(box).length;
          area.setAttribute("aria-controls", box.id);
          choose(area, box, null);
        }, function () { close(area, box); });
    }, 150);
  });
  document.addEventListener("keydown", function (event) {
    var area = event.target, box = area.matches && area.matches("textarea") ? boxFor(area) : null;
    if (!box || box.hidden) return;
    var list = options(box), current = box.querySelector("[role=option].active"), index = list.indexOf(current);
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      choose(area, box, list[(index + (event.key === "ArrowDown" ? 1 : list.length - 1 + (index < 0 ? 1 : 0))) % list.length]);
    } else if ((event.key === "Enter" || event.key === "Tab") && current) {
      event.preventDefault();
      put(area, box, current);
    } else if (event.key === "Escape") {
      event.preventDefault();
      close(area, box);
    }
  });
  document.addEventListener("mousedown", function (event) {
    var option = event.target.closest && event.target.closest("[data-mention-options] [role=option]");
    if (!option) return;
    event.preventDefault();  // the text keeps the focus and its caret
    var box = option.closest("[data-mention-options]"), area = box.closest(".field").querySelector("textarea");
    put(area, box, option);
  });
  document.addEventListener("focusout", function (event) {
    var area = event.target, box = area.matches && area.matches("textarea") ? boxFor(area) : null;
    if (box) window.setTimeout(function () { if (document.activeElement !== area) close(area, box); }, 0);
  });
})();

// The formula editor: "Insert" puts the chosen field or function into the expression at the cursor, then asks for a check.
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-insert-into]");
  if (!button) return;
  var source = document.getElementById(button.getAttribute("data-insert-from"));
  var target = document.getElementById(button.getAttribute("data-insert-into"));
  if (!source || !target || !source.value) return;
  var start = target.selectionStart != null ? target.selectionStart : target.value.length;
  var end = target.selectionEnd != null ? target.selectionEnd : start;
  target.value = target.value.slice(0, start) + source.value + target.value.slice(end);
  target.focus();
  target.selectionStart = target.selectionEnd = start + source.value.length;
  if (window.htmx) htmx.trigger(target, "formula-insert");
});
