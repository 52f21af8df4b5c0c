// Progressive enhancement for Undersigned's public pages. The pages work fully without
// this file; with it, the counter updates live, fields are checked as people type, and
// the copy-link button works.
(function () {
  "use strict";

  // Live counter: poll the counter endpoint while the page is visible.
  function startCounters() {
    var counters = document.querySelectorAll("[data-counter-url]");
    if (!counters.length || !window.fetch) return;
    function refresh() {
      if (document.hidden) return;
      counters.forEach(function (el) {
        fetch(el.getAttribute("data-counter-url"), { headers: { Accept: "application/json" }, cache: "no-store" })
          .then(function (r) { return r.ok ? r.json() : null; })
          .then(function (data) {
            if (!data) return;
            var fmt = new Intl.NumberFormat(el.getAttribute("data-lang") || undefined);
            var number = el.querySelector("[data-count]");
            if (number) number.textContent = fmt.format(data.count);
            var bar = el.querySelector("[data-progress]");
            if (bar && data.goal) {
              var percent = Math.max(0, Math.min(100, Math.floor((data.count * 100) / data.goal)));
              bar.style.width = percent + "%";
              bar.parentNode.setAttribute("aria-valuenow", String(percent));
            }
          })
          .catch(function () {});
      });
    }
    setInterval(refresh, 5000);
    document.addEventListener("visibilitychange", refresh);
  }

  // Inline validation, with the same words the server uses.
  function problemWith(field) {
    var value = field.value.trim();
    if (field.type === "checkbox" || field.type === "hidden" || field.name === "website") return null;
    if (field.required && !value) return field.getAttribute("data-msg-required");
    var max = parseInt(field.getAttribute("maxlength") || "0", 10);
    if (max && value.length > max) return field.getAttribute("data-msg-too-long");
    if (field.type === "email" && value && !/^[^\s@<>()]+@[^\s@<>()]+\.[^\s@<>()]+$/.test(value)) {
      return field.getAttribute("data-msg-invalid");
    }
    return null;
  }

  function show(field, message) {
    var slot = document.getElementById(field.id + "-error");
    var box = field.closest(".field");
    if (message) {
      field.setAttribute("aria-invalid", "true");
      if (slot) { slot.hidden = false; slot.textContent = message; }
      if (box) box.classList.add("field--error");
    } else {
      field.removeAttribute("aria-invalid");
      if (slot) { slot.hidden = true; slot.textContent = ""; }
      if (box) box.classList.remove("field--error");
    }
  }

  function startValidation() {
    document.querySelectorAll("form[data-validate]").forEach(function (form) {
      var fields = form.querySelectorAll("input[id], select[id], textarea[id]");
      fields.forEach(function (field) {
        field.addEventListener("blur", function () { show(field, problemWith(field)); });
        field.addEventListener("input", function () {
          if (field.getAttribute("aria-invalid")) show(field, problemWith(field));
        });
      });
      form.addEventListener("submit", function (event) {
        var problems = [];
        fields.forEach(function (field) {
          var message = problemWith(field);
          show(field, message);
          if (message) problems.push([field.id, message]);
        });
        var summary = form.parentNode.querySelector("[data-error-summary]");
        if (problems.length) {
          event.preventDefault();
          if (summary) {
            var list = summary.querySelector("ul");
            list.innerHTML = "";
            problems.forEach(function (p) {
              var li = document.createElement("li");
              var a = document.createElement("a");
              a.href = "#" + p[0];
              a.textContent = p[1];
              li.appendChild(a);
              list.appendChild(li);
            });
            summary.hidden = false;
            summary.focus();
          }
          return;
        }
        var button = form.querySelector("button[type=submit]");
        if (button) {
          // Keeps a double click from sending twice; the server would not count it twice anyway.
          setTimeout(function () { button.disabled = true; button.textContent = form.getAttribute("data-sending") || button.textContent; }, 0);
        }
      });
    });
  }

  // Error summary links move focus to the field, not just scroll to it.
  function startSummaryLinks() {
    document.addEventListener("click", function (event) {
      var link = event.target.closest && event.target.closest("[data-error-summary] a");
      if (!link) return;
      var target = document.getElementById(link.getAttribute("href").slice(1));
      if (target) { event.preventDefault(); target.focus(); }
    });
    var summary = document.querySelector("[data-error-summary]:not([hidden])");
    if (summary) summary.focus();
  }

  function startCopyButtons() {
    document.querySelectorAll("[data-copy]").forEach(function (button) {
      if (!navigator.clipboard) return;
      button.hidden = false;
      button.addEventListener("click", function () {
        var input = document.querySelector(button.getAttribute("data-copy"));
        var status = button.closest(".copy-link").querySelector(".copy-status");
        navigator.clipboard.writeText(input.value).then(function () {
          status.textContent = button.getAttribute("data-copied");
        });
      });
    });
  }

  // Representative lookup: as soon as the postal code is complete, ask whom the letter goes
  // to and show it, so that the supporter sees it before sending (without this script the
  // server shows it as a step of the form instead).
  function startLookups() {
    document.querySelectorAll("[data-lookup]").forEach(function (box) {
      var form = box.closest("form");
      var postal = form && form.querySelector("[name=postal_code]");
      var reviewed = form && form.querySelector("[name=reviewed_targets]");
      if (!postal || !reviewed || !window.fetch) return;
      var list = box.querySelector("[data-lookup-list]");
      var hint = box.querySelector("[data-lookup-hint]");
      var asked = reviewed.value ? postal.value.trim().toUpperCase() : "";
      function say(message, isError) {
        list.innerHTML = "";
        hint.hidden = false;
        hint.textContent = message;
        hint.classList.toggle("lookup-error", !!isError);
      }
      function lookUp() {
        var code = postal.value.trim().toUpperCase();
        if (code === asked) return;
        asked = code;
        reviewed.value = "";
        if (code.replace(/[^A-Z0-9]/g, "").length < 5) return;
        var country = form.querySelector("[name=country]");
        var url = box.getAttribute("data-lookup") + "?postal_code=" + encodeURIComponent(code) +
          (country && country.value ? "&country=" + encodeURIComponent(country.value) : "");
        fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" })
          .then(function (r) { return r.json().then(function (data) { return [r.ok, data]; }); })
          .then(function (result) {
            if (code !== asked) return;
            var data = result[1];
            if (!result[0]) { say(data.message || "", true); return; }
            list.innerHTML = "";
            data.targets.forEach(function (target) {
              var li = document.createElement("li");
              var name = document.createElement("strong");
              name.textContent = target.name;
              li.appendChild(name);
              var detail = [target.title, target.district, target.party].filter(function (x) { return x; });
              if (detail.length) li.appendChild(document.createTextNode(" " + detail.join(", ")));
              list.appendChild(li);
            });
            hint.hidden = true;
            reviewed.value = data.review_keys;
          })
          .catch(function () {});
      }
      postal.addEventListener("input", lookUp);
      postal.addEventListener("change", lookUp);
    });
  }

  startCounters();
  startLookups();
  startValidation();
  startSummaryLinks();
  startCopyButtons();
})();
